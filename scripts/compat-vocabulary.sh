#!/usr/bin/env bash
# Measures the kernel-compatibility layer against shared/kernel-clients/
# VOCABULARY.md: every header name listed there must build alone with
# `cc -std=gnu11 -I compat -I include`, and each of the union's
# identifiers must be provided -- a macro the layer defines, a config the
# layer answers for (compat/pw_config.h), an object, function, type or enum
# constant `__typeof__` accepts, or a struct tag that is complete.
# Prints one line per missing name, then "identifiers: N/286" and
# "headers: N/M".  Exit 1 if a header fails to build.
set -uo pipefail
cd "$(dirname "$0")/.."
VOCAB=${VOCAB:-../shared/kernel-clients/VOCABULARY.md}
if [ ! -f "$VOCAB" ]; then
    echo "compat-vocabulary: $VOCAB not found (the shared contract beside the clone): nothing measured"
    exit 0
fi
CC=${CC:-$(command -v /opt/swift/usr/bin/clang || command -v clang || command -v cc)}
OUT=${OUT:-.build/compat-vocabulary}
mkdir -p "$OUT"
exec python3 - "$VOCAB" "$CC" "$OUT" <<'PY'
import re, subprocess, sys
vocab, cc, out = sys.argv[1:4]
text = open(vocab).read()
union = text.split("## Union", 1)[1].split("## Per client", 1)[0]
idents = []
for m in re.finditer(r"`([A-Za-z_][A-Za-z0-9_]*)`", union):
    if m.group(1) not in idents:
        idents.append(m.group(1))
headers = re.findall(r'(<[^>\s]+>|"[^"\s]+")', text.split("## Headers these clients include", 1)[1])
flags = ["-std=gnu11", "-I", "compat", "-I", "include", "-fsyntax-only", "-w"]

def compiles(src, name):
    path = f"{out}/{name}.c"
    open(path, "w").write(src)
    r = subprocess.run([cc] + flags + ["-ferror-limit=0", path], capture_output=True, text=True)
    return r

# Headers, one at a time.
bad_headers = []
for i, h in enumerate(headers):
    r = compiles(f"#include {h}\nint pw_probe;\n", f"header{i}")
    if r.returncode:
        bad_headers.append(h)
        print(f"header {h} does not build:\n{r.stderr[:400]}")

prelude = '#include "pw_compat.h"\n'
# Macros the layer defines.
r = subprocess.run([cc, "-std=gnu11", "-I", "compat", "-I", "include", "-E", "-dM", "-x", "c", "-"],
                   input=prelude, capture_output=True, text=True)
macros = set(re.findall(r"#define ([A-Za-z_][A-Za-z0-9_]*)", r.stdout))
config = open("compat/pw_config.h").read()

def failing(lines_for):
    src = prelude
    first = src.count("\n") + 1
    index = {}
    for n, ident in enumerate(lines_for):
        index[first + n] = ident
        src += lines_for[ident] + "\n"
    r = compiles(src, "probe")
    bad = set()
    for m in re.finditer(r"probe\.c:(\d+):\d+: error", r.stderr):
        line = int(m.group(1))
        if line in index:
            bad.add(index[line])
    return bad

todo = [i for i in idents if i not in macros and not (i.startswith("CONFIG_") and i in config)]
typeof_lines = {i: f"__typeof__({i}) *pw_probe_{i};" for i in todo}
left = failing(typeof_lines)
struct_lines = {i: f"int pw_probe_s_{i} = sizeof(struct {i});" for i in left}
left = sorted(failing(struct_lines)) if left else []
# Names the layer must leave alone, with the reason (counted apart).
by_design = {
    "pagemap_entry_t": "defined by fs/proc/task_mmu.c itself: the layer must not define it",
    "address_space": "opaque: declared, used through pointers only (as every listed client does)",
}
for i in left:
    print(f"{'by design' if i in by_design else 'missing'}: {i}" +
          (f" ({by_design[i]})" if i in by_design else ""))
missing = [i for i in left if i not in by_design]
print(f"identifiers: {len(idents) - len(left)}/{len(idents)} provided, "
      f"{len(left) - len(missing)} left to the client file or opaque by design, {len(missing)} missing")
print(f"headers: {len(headers) - len(bad_headers)}/{len(headers)}")
sys.exit(1 if bad_headers else 0)
PY
