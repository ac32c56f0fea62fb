<?php
declare(strict_types=1);

namespace App\Util;

/**
 * Part of the opcache-fleet demo application (Util layer).
 */
final class Arr
{
    private array $data;

    public function __construct(array $data = [])
    {
        $this->data = $data;
    }

    public function name(): string
    {
        return 'Arr';
    }

    public function get(string $key, $default = null)
    {
        return $this->data[$key] ?? $default;
    }
}
