<?php
declare(strict_types=1);

namespace App\Http;

/**
 * Part of the opcache-fleet demo application (Http layer).
 */
final class Request
{
    private array $data;

    public function __construct(array $data = [])
    {
        $this->data = $data;
    }

    public function name(): string
    {
        return 'Request';
    }

    public function get(string $key, $default = null)
    {
        return $this->data[$key] ?? $default;
    }
}
