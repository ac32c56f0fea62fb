<?php
// Lab page: puts entries in APCu so that diagnose and the reset have a real user cache to
// read and clear. ?fill=P stores 16 KiB entries until P % of APCu's memory is used;
// ?punch=1 then deletes every other entry, leaving holes between live ones (fragmentation).
// Answers one line: entries, free bytes, total bytes.
header('Content-Type: text/plain');
header('Cache-Control: no-store');
if (!function_exists('apcu_store') || !apcu_enabled()) {
    http_response_code(501);
    echo "apcu not available\n";
    return;
}
$sma = apcu_sma_info(true);
$total = $sma['num_seg'] * $sma['seg_size'];
$fill = isset($_GET['fill']) ? min(max((int) $_GET['fill'], 0), 99) : 0;
$value = str_repeat('x', 16384);
for ($i = 0; $fill > 0 && $i < 100000; $i++) {
    $sma = apcu_sma_info(true);
    if ($total - $sma['avail_mem'] >= $total * $fill / 100) {
        break;
    }
    apcu_store('lab:' . $i, $value);
}
if (!empty($_GET['punch'])) {
    for ($i = 0; $i < 100000; $i += 2) {
        if (!apcu_exists('lab:' . $i)) {
            break;
        }
        apcu_delete('lab:' . $i);
    }
}
$info = apcu_cache_info(true);
$sma = apcu_sma_info(true);
echo $info['num_entries'] . ' ' . $sma['avail_mem'] . ' ' . $total . "\n";
