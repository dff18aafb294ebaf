#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a kernel-style client shared object could not be run.
public struct KernelClientError: Error, CustomStringConvertible, Sendable {
    /// One line: what, where, why.
    public let description: String
}

extension AddressSpace {
    /// Loads the kernel-style walk client at `path` (a shared object built with
    /// `cc -std=gnu11 -shared -fPIC -I compat -I include`, defining
    /// `int pagewalk_client_main(struct mm_struct *mm, int argc, char **argv)`; see
    /// compat/pagewalk_client.h and docs/KERNEL-CLIENTS.md) and runs it over this address space.
    ///
    /// The client gets `argv[0]` = `path` and then `arguments`; it takes the mmap lock itself.
    /// The core's symbols it calls come from the running program, which must export them
    /// (`pagewalk` and the test bundle are linked with `--export-dynamic`).
    ///
    /// - Returns: the client's return value (its exit status).
    public func runKernelClient(at path: String, arguments: [String] = []) throws(KernelClientError) -> Int32 {
        let loadPath = path.contains("/") ? path : "./" + path
        guard let handle = dlopen(loadPath, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw KernelClientError(description: "pagewalk: client \(path): cannot load: \(why)")
        }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, "pagewalk_client_main") else {
            throw KernelClientError(description: "pagewalk: client \(path): defines no pagewalk_client_main (see compat/pagewalk_client.h)")
        }
        typealias Entry = @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32
        let entry = unsafeBitCast(symbol, to: Entry.self)
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        defer { for p in argv { free(p) } }
        argv.append(nil)
        return argv.withUnsafeMutableBufferPointer { buf in
            entry(pointer, Int32(buf.count - 1), buf.baseAddress)
        }
    }
}
