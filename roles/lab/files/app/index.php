<?php
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use App\Http\Request;
use App\Http\Response;
use App\Http\Router;
use App\Http\Controller;
use App\Model\Customer;
use App\Model\Order;
use App\Model\Product;
use App\Model\Address;
use App\Service\PricingService;
use App\Service\InventoryService;
use App\Service\CurrencyConverter;
use App\Legacy\Cache;
use App\Legacy\Registry;
use App\Util\Clock;
use App\Util\Arr;

$parts = [
    new Request(), new Response(), new Router(), new Controller(),
    new Customer(['name' => 'Ada']), new Order(), new Product(), new Address(),
    new PricingService(), new InventoryService(), new CurrencyConverter(),
    new Cache(), new Registry(), new Clock(), new Arr(),
];
app_page(APP_NAME . ' home', array_map(static fn ($p) => $p->name(), $parts));
