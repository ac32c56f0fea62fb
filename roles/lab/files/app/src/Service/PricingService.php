<?php
declare(strict_types=1);

namespace App\Service;

/**
 * Part of the opcache-fleet demo application (Service layer).
 */
final class PricingService
{
    private array $data;

    public function __construct(array $data = [])
    {
        $this->data = $data;
    }

    public function name(): string
    {
        return 'PricingService';
    }

    public function get(string $key, $default = null)
    {
        return $this->data[$key] ?? $default;
    }
}
