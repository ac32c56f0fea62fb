<?php
declare(strict_types=1);

// PSR-4 style autoloader: App\X\Y lives in src/X/Y.php of this release folder.
spl_autoload_register(static function (string $class): void {
    $prefix = 'App\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

require __DIR__ . '/config/app.php';
require __DIR__ . '/lib/helpers.php';
