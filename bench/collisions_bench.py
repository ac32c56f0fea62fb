#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark php_class_collisions on a generated code base of ~50,000 PHP files.

    .venv/bin/python bench/collisions_bench.py [--files 50000] [--out bench/out/collisions]
                                               [--workers 0 1] [--regenerate]

Generates (once, deterministic) a Composer-shaped tree: application classes under
src/, packages under vendor/, templates with inline HTML and alternative syntax,
config files that only return arrays, tests. File sizes vary from a few hundred
bytes to ~40 KB. A few collisions are planted (application class copied into
vendor/, a conditional polyfill, a case-variant duplicate) and the scan must find
exactly those. Then it times the scan for each --workers value and prints a table.
Not a test: run it by hand and copy the figures into bench/COLLISIONS.md.
"""

import argparse
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, ".collections"))  # the checkout as phpfpm.opcache_fleet (make setup)
from ansible_collections.phpfpm.opcache_fleet.plugins.module_utils.php.class_collisions import find_collisions  # noqa: E402

WORDS = ("User Order Cart Item Price Tax Invoice Customer Address Payment Shipment Stock "
         "Product Category Review Rating Token Session Cache Queue Job Event Listener "
         "Mailer Report Export Import Parser Writer Reader Client Server Request Response "
         "Route Controller Repository Factory Builder Manager Provider Handler Adapter").split()
SUFFIXES = ("", "Service", "Interface", "Trait", "Test", "Helper", "Exception", "Type", "Dto")

METHOD = '''
    /**
     * {doc} the {word} for the given key.
     *
     * @param string $key the key (see class {word}Other for details)
     * @return array<string, mixed>
     */
    public function {verb}{word}{i}(string $key, array $options = []): ?array
    {{
        if (!isset($this->items[$key])) {{
            throw new \\InvalidArgumentException(sprintf('Item "%s" not found in %s', $key, static::class));
        }}
        $result = array_map(function ($v) use ($options) {{ return $v * {i}; }}, $this->items[$key]);
        foreach ($result as $k => $v) {{
            $this->logger->debug("value {{$k}} is $v for {word}", ['key' => $k]); // trace
        }}
        $sql = <<<SQL
            SELECT * FROM {table} WHERE id = :id -- class {word} {{ }}
            SQL;
        return $result + ['sql' => $sql, 'class' => self::class];
    }}
'''

TEMPLATE = '''<?php /** @var array $items */ ?>
<!DOCTYPE html>
<html class="no-js">
<head><title><?= htmlspecialchars($title) ?></title></head>
<body class="page {word}">
<?php if (!empty($items)): ?>
  <ul class="list">
  <?php foreach ($items as $item): ?>
    <li class="item"><?= $item['name'] ?> &mdash; class {word} {{ }}</li>
  <?php endforeach; ?>
  </ul>
<?php else: ?>
  <p class="empty">No {word} yet.</p>
<?php endif; ?>
</body>
</html>
'''

CONFIG = '''<?php

return [
    'name' => '{word}',
    'enabled' => true,
    'classes' => ['{ns}\\\\{word}', '{ns}\\\\{word}Service'],
    'options' => ['ttl' => {i}, 'driver' => 'redis'],
];
'''


def php_class(rng, ns, name, kind="class"):
    uses = "".join("use %s\\%s;\n" % (ns, rng.choice(WORDS)) for _ in range(rng.randint(1, 8)))
    head = "<?php\n\ndeclare(strict_types=1);\n\nnamespace %s;\n\n%s\n/**\n * %s %s.\n */\n" % (
        ns, uses, kind.title(), name)
    mods = rng.choice(("", "", "final ", "abstract ", "readonly ")) if kind == "class" else ""
    extends = " extends Base%s" % rng.choice(WORDS) if kind == "class" and rng.random() < 0.5 else ""
    body = "".join(
        METHOD.format(doc=rng.choice(("Returns", "Finds", "Loads")), word=rng.choice(WORDS),
                      verb=rng.choice(("get", "find", "load", "make")), i=i,
                      table=rng.choice(WORDS).lower())
        for i in range(max(1, int(rng.lognormvariate(1.2, 0.8)))))
    if kind == "enum":
        body = "    case A = 'a';\n    case B = 'b';\n"
    return "%s%s%s %s%s\n{\n    private array $items = [];\n%s}\n" % (
        head, mods, kind, name, extends, body)


def generate(out, total, seed=42):
    rng = random.Random(seed)
    written = 0
    size = 0
    vendors = ["%s/%s" % (rng.choice(("acme", "symfony", "laminas", "guzzle", "monolog", "psr")),
                          rng.choice(WORDS).lower() + str(i)) for i in range(300)]

    def put(rel, text):
        nonlocal written, size
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = text.encode("utf-8")
        with open(path, "wb") as fh:
            fh.write(data)
        written += 1
        size += len(data)

    while written < total:
        r = rng.random()
        word = rng.choice(WORDS) + rng.choice(SUFFIXES)
        if r < 0.6:  # vendor package class
            pkg = rng.choice(vendors)
            vendor_ns = "".join(p.title() for p in pkg.replace("-", "/").split("/"))
            sub = rng.choice(("", "Util", "Model", "Http", "Event"))
            ns = vendor_ns + ("\\" + sub if sub else "")
            kind = rng.choice(("class",) * 8 + ("interface", "trait", "enum"))
            put("vendor/%s/src/%s%s_%d.php" % (pkg, sub + "/" if sub else "", word, written),
                php_class(rng, ns, "%s_%d" % (word, written), kind))
        elif r < 0.8:  # application class
            area = rng.choice(("Controller", "Model", "Service", "Repository", "Event"))
            put("src/%s/%s_%d.php" % (area, word, written),
                php_class(rng, "App\\" + area, "%s_%d" % (word, written)))
        elif r < 0.9:  # template
            put("templates/%s/%s_%d.php" % (rng.choice(WORDS).lower(), word.lower(), written),
                TEMPLATE.format(word=word))
        elif r < 0.95:  # config
            put("config/packages/%s_%d.php" % (word.lower(), written),
                CONFIG.format(word=word, ns="App", i=written))
        else:  # tests
            put("tests/Unit/%sTest_%d.php" % (word, written),
                php_class(rng, "App\\Tests\\Unit", "%sTest_%d" % (word, written)))

    # planted collisions (the scan must report exactly these three keys)
    put("src/Legacy/Mailer.php", "<?php\nnamespace App\\Legacy;\n\nclass Mailer {}\n")
    put("vendor/acme/legacy-mailer/src/Mailer.php",
        "<?php\nnamespace App\\Legacy;\n\nif (!class_exists(Mailer::class)) {\n    class Mailer {}\n}\n")
    put("src/Util/Str.php", "<?php\nnamespace App\\Util;\nfinal class Str {}\n")
    put("src/util/str.php", "<?php\nnamespace app\\util;\nfinal class STR {}\n")
    put("vendor/symfony/polyfill-php80/Resources/stubs/Stringable.php",
        "<?php\nif (\\PHP_VERSION_ID < 80000) {\n    interface Stringable {}\n}\n")
    put("vendor/laminas/compat/Stringable.php", "<?php\ninterface Stringable {}\n")
    return written, size


EXPECTED = ["app\\legacy\\mailer", "app\\util\\str", "stringable"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=50000)
    ap.add_argument("--out", default=os.path.join(HERE, "out", "collisions"))
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 0])
    ap.add_argument("--regenerate", action="store_true")
    args = ap.parse_args()

    marker = os.path.join(args.out, ".generated.json")
    meta = None
    if not args.regenerate and os.path.exists(marker):
        with open(marker) as fh:
            meta = json.load(fh)
        if meta.get("files_requested") != args.files:
            meta = None
    if meta is None:
        if os.path.exists(args.out):
            import shutil
            shutil.rmtree(args.out)
        t0 = time.monotonic()
        files, size = generate(args.out, args.files)
        meta = {"files_requested": args.files, "files": files, "bytes": size}
        with open(marker, "w") as fh:
            json.dump(meta, fh)
        print("generated %d files, %.1f MB in %.1f s" % (files, size / 1e6, time.monotonic() - t0))

    print("tree: %s: %d files, %.1f MB (page cache warm after the first run)"
          % (args.out, meta["files"], meta["bytes"] / 1e6))
    print("load average before: %s" % " ".join("%.1f" % x for x in os.getloadavg()))
    print("%-8s %10s %10s %10s %10s %10s %s" % (
        "workers", "elapsed_s", "cpu_s", "files/s", "MB/s", "decls", "collisions"))
    ok = True
    for workers in args.workers:
        t0 = time.monotonic()
        c0 = os.times()
        res = find_collisions([os.path.abspath(args.out)], workers=workers)
        dt = time.monotonic() - t0
        c1 = os.times()
        # CPU of this process and of the pool's workers (user + system)
        cpu = sum(c1[:4]) - sum(c0[:4])
        got = [c["key"] for c in res["collisions"]]
        ok = ok and got == EXPECTED
        print("%-8s %10.2f %10.2f %10.0f %10.1f %10d %s" % (
            workers or "auto(%d)" % (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                     else os.cpu_count()),
            dt, cpu, res["files_scanned"] / dt, meta["bytes"] / dt / 1e6, res["declarations"],
            "ok" if got == EXPECTED else "UNEXPECTED %s" % got))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
