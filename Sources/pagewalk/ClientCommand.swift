import ArgumentParser
import PageWalk
import PageWalkImport

/// `pagewalk client ./client.so --pid P [ARGS...]`: a kernel-style walk client, built as a shared
/// object through the compat layer, run over an imported process.
struct Client: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a process and run a kernel-style walk client (a shared object) over it.",
        discussion: """
            Build the client with `cc -std=gnu11 -shared -fPIC -I compat -I include client.c -o client.so`; \
            it defines `int pagewalk_client_main(struct mm_struct *mm, int argc, char **argv)` \
            (compat/pagewalk_client.h, docs/KERNEL-CLIENTS.md). Its return value is the exit status.
            """)

    @Argument(help: "The client shared object.")
    var object: String

    @Option(help: "The process to import.")
    var pid: Int32

    @Argument(parsing: .allUnrecognized, help: "Arguments passed to the client (argv[1] ...); after -- they may start with a dash.")
    var arguments: [String] = []

    func run() throws {
        let snapshot = importOrDie(pid)
        let status: Int32
        do {
            status = try snapshot.space.runKernelClient(at: object, arguments: arguments)
        } catch {
            die(CommandFailure(description: error.description, status: 2))
        }
        if status != 0 { throw ExitCode(status) }
    }
}
