#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Code base for bench/cure_cost.py. Runs ON a lab host (standard library only).

    python3 cure_app_gen.py ROOT FILES ROUTES

Writes FILES classes (ROOT/src/C<n>.php, eight methods each: loops, sprintf, match) and
ROOT/route.php?r=K, which loads slice K of ROUTES slices: a page per route, each with its
own include set, as the routes of a real application have.
"""
import os
import sys

METHOD = """
    public function m%(m)d(array $rows, string $prefix = 'c%(c)d-%(m)d'): array
    {
        $out = [];
        foreach ($rows as $i => $row) {
            if (is_array($row) && isset($row['amount'])) {
                $out[] = sprintf('%%s:%%d:%%0.2f', $prefix, $i, $row['amount'] * %(m)d.5);
            } elseif (is_string($row)) {
                $out[] = strtoupper(substr($row, 0, %(m)d + 3)) . self::LABEL;
            } else {
                $out[] = match (true) { $i %% 3 === 0 => 'fizz', $i %% 5 === 0 => 'buzz', default => (string) $i };
            }
        }
        return array_merge($out, ['count' => count($out), 'class' => static::class]);
    }
"""

ROUTE = """<?php
$r = (int) ($_GET['r'] ?? 0) %% %(routes)d;
$n = 0;
for ($i = $r * %(per)d; $i < ($r + 1) * %(per)d; $i++) {
    require_once __DIR__ . '/src/C' . $i . '.php';
    $class = 'CureBench\\\\C' . $i;
    $n += count((new $class())->m0([['amount' => $i], 'text', 3]));
}
echo 'route ', $r, ' loaded ', $n, "\\n";
"""


def main():
    root, files, routes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    for c in range(files):
        body = "".join(METHOD % {"m": m, "c": c} for m in range(8))
        with open(os.path.join(root, "src", "C%d.php" % c), "w") as f:
            f.write("<?php\nnamespace CureBench;\n\nfinal class C%d\n{\n    public const LABEL = 'c%d';\n%s}\n"
                    % (c, c, body))
    with open(os.path.join(root, "route.php"), "w") as f:
        f.write(ROUTE % {"routes": routes, "per": files // routes})


if __name__ == "__main__":
    main()
