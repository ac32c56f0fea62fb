<?php
declare(strict_types=1);

namespace App\Util;

final class Money
{
    public static function format(int $cents, string $currency = 'EUR'): string
    {
        return sprintf('%d.%02d %s', intdiv($cents, 100), $cents % 100, $currency);
    }
}
