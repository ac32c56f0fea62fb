<?php
// Kills its own php-fpm worker with SIGSEGV: a real crash, a real 502 in nginx.
posix_kill(getmypid(), 11);
echo "not reached\n";
