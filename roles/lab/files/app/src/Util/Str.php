<?php
declare(strict_types=1);

namespace App\Util;

final class Str
{
    public static function slug(string $text): string
    {
        return strtolower(trim((string) preg_replace('/[^A-Za-z0-9]+/', '-', $text), '-'));
    }
}
