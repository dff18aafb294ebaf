import ArgumentParser
import Foundation

// The output every result-printing command shares: the kernel's text by default, JSON with
// --json (one object per line, JSON Lines, for per-page and per-range output). A new command
// adopts it with `@OptionGroup var output: OutputOptions` and writes through `Output`:
//
//     if output.json { Output.json(["type": "range", "start": .hex(start)]) } else { Output.text(line) }
//
// docs/JSON.md documents each command's objects; add yours there.

/// `--json`, for any command that prints results.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of the kernel's text format: one object per line (JSON Lines), each with a \"type\"; see docs/JSON.md.")
    var json = false
}

/// A JSON value whose objects keep their keys in the order written.
enum JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    init(stringLiteral s: String) { self = .string(s) }
    init(integerLiteral i: Int64) { self = .int(i) }
    init(floatLiteral d: Double) { self = .double(d) }
    init(booleanLiteral b: Bool) { self = .bool(b) }
    init(arrayLiteral elements: JSON...) { self = .array(elements) }
    init(dictionaryLiteral pairs: (String, JSON)...) { self = .object(pairs) }

    /// An address or a 64-bit entry: a `"0x…"` string (JSON numbers lose bits above 2^53).
    static func hex(_ v: UInt64) -> JSON { .string("0x" + String(v, radix: 16)) }
    /// A count or a size.
    static func number<I: BinaryInteger>(_ v: I) -> JSON { v < 0 ? .int(Int64(v)) : .uint(UInt64(v)) }

    /// The compact text of the value.
    var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .string(let s): JSON.quote(s, into: &out)
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d): out += d.isFinite ? String(d) : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out += "," }
                JSON.quote(k, into: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

/// Standard output, buffered: a command's lines go out in large writes.
enum Output {
    nonisolated(unsafe) private static var buffer = ""

    /// One line of text (a newline is added).
    static func text(_ line: String) {
        buffer += line
        buffer += "\n"
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    /// Text as is (for output that already ends in newlines).
    static func raw(_ s: String) {
        buffer += s
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    /// One JSON object, as one line.
    static func json(_ value: JSON) {
        value.write(to: &buffer)
        buffer += "\n"
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    /// Writes what is buffered; called before exit and before anything goes to stderr.
    static func flush() {
        if buffer.isEmpty { return }
        FileHandle.standardOutput.write(Data(buffer.utf8))
        buffer = ""
    }
}
