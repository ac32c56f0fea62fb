<?php
declare(strict_types=1);

function app_release(): string
{
    return basename((string) realpath(APP_RELEASE_DIR));
}

function app_page(string $title, array $lines): void
{
    header('Content-Type: text/plain; charset=utf-8');
    echo $title, ' (release ', app_release(), ')', "\n";
    foreach ($lines as $line) {
        echo ' - ', $line, "\n";
    }
}
