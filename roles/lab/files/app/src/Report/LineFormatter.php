<?php
declare(strict_types=1);

namespace App\Report;

/**
 * Part of the opcache-fleet demo application (Report layer).
 */
final class LineFormatter implements \App\Contract\Renderable
{
    private array $data;

    public function __construct(array $data = [])
    {
        $this->data = $data;
    }

    public function name(): string
    {
        return 'LineFormatter';
    }

    public function get(string $key, $default = null)
    {
        return $this->data[$key] ?? $default;
    }

    public function renderable(): string
    {
        return 'LineFormatter:' . \App\Util\Str::slug('LineFormatter');
    }
}
