<?php
declare(strict_types=1);

const APP_NAME = 'opcache-fleet demo';
const APP_RELEASE_DIR = __DIR__ . '/..';
