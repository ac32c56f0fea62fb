<?php
declare(strict_types=1);

namespace App\Legacy;

/**
 * Part of the opcache-fleet demo application (Legacy layer).
 */
final class Registry
{
    private array $data;

    public function __construct(array $data = [])
    {
        $this->data = $data;
    }

    public function name(): string
    {
        return 'Registry';
    }

    public function get(string $key, $default = null)
    {
        return $this->data[$key] ?? $default;
    }
}
