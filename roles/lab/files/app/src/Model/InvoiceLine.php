<?php
declare(strict_types=1);

namespace App\Model;

/**
 * Part of the opcache-fleet demo application (Model layer).
 */
final class InvoiceLine
{
    private array $data;

    public function __construct(array $data = [])
    {
        $this->data = $data;
    }

    public function name(): string
    {
        return 'InvoiceLine';
    }

    public function get(string $key, $default = null)
    {
        return $this->data[$key] ?? $default;
    }
}
