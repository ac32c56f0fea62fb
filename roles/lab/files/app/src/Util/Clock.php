<?php
declare(strict_types=1);

namespace App\Util;

/**
 * Part of the opcache-fleet demo application (Util layer).
 */
final class Clock
{
    private array $data;

    public function __construct(array $data = [])
    {
        $this->data = $data;
    }

    public function name(): string
    {
        return 'Clock';
    }

    public function get(string $key, $default = null)
    {
        return $this->data[$key] ?? $default;
    }
}
