<?php
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use App\Report\ReportContext;
use App\Report\SummaryBuilder;
use App\Report\LineFormatter;
use App\Report\TotalsTable;
use App\Report\ChartData;
use App\Report\CsvExporter;
use App\Model\Invoice;
use App\Model\InvoiceLine;
use App\Service\TaxCalculator;
use App\Service\DiscountPolicy;
use App\Util\Money;

$context = new ReportContext(['period' => '2026-11']);
$sections = [
    new SummaryBuilder(), new LineFormatter(), new TotalsTable(), new ChartData(), new CsvExporter(),
];
$lines = array_map(static fn ($s) => $s->renderable(), $sections);
$lines[] = (new Invoice())->name() . ' / ' . (new InvoiceLine())->name();
$lines[] = (new TaxCalculator())->name() . ' / ' . (new DiscountPolicy())->name();
$lines[] = 'total ' . Money::format(123456);
app_page('Monthly report ' . $context->get('period'), $lines);
