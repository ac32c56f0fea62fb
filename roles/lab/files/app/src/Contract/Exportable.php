<?php
declare(strict_types=1);

namespace App\Contract;

interface Exportable
{
    public function exportable(): string;
}
