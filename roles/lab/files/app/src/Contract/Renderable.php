<?php
declare(strict_types=1);

namespace App\Contract;

interface Renderable
{
    public function renderable(): string;
}
