<?php
declare(strict_types=1);

namespace App\Report;

/**
 * Part of the opcache-fleet demo application (Report layer).
 */
final class ChartData implements \App\Contract\Renderable
{
    private array $data;

    public function __construct(array $data = [])
    {
        $this->data = $data;
    }

    public function name(): string
    {
        return 'ChartData';
    }

    public function get(string $key, $default = null)
    {
        return $this->data[$key] ?? $default;
    }

    public function renderable(): string
    {
        return 'ChartData:' . \App\Util\Str::slug('ChartData');
    }
}
