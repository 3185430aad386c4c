<?php
/*
 * Stand-in for a Jeedom plugin's callback script (core/php/jee<Id>.php), served by
 * `php -S 127.0.0.1:PORT callback.php`. It records every request it receives as one JSON line
 * in the file named by JEEDOM_PEER_LOG, and behaves as the file named by JEEDOM_PEER_CONTROL
 * says (JSON: {"status": 500, "delayMs": 2000, "location": "https://..."}); without a
 * control file it answers like the real script: 200, empty body, or the French refusal
 * text when the apikey differs from JEEDOM_PEER_APIKEY (protocols/jeedom.md §4.6).
 */
$log = getenv('JEEDOM_PEER_LOG');
$controlFile = getenv('JEEDOM_PEER_CONTROL');
$expectedKey = getenv('JEEDOM_PEER_APIKEY');

$headers = function_exists('getallheaders') ? getallheaders() : array();
$body = file_get_contents('php://input');
$record = array(
    'time' => microtime(true),
    'method' => $_SERVER['REQUEST_METHOD'],
    'uri' => $_SERVER['REQUEST_URI'],
    'query' => $_GET,
    'headers' => $headers,
    'body' => $body,
    // What the real script does with the body: json_decode into an array (§4.6 step 4).
    'decoded' => json_decode($body, true),
);

$control = array();
if ($controlFile && is_file($controlFile)) {
    $parsed = json_decode(file_get_contents($controlFile), true);
    if (is_array($parsed)) $control = $parsed;
}
$record['answered'] = isset($control['status']) ? $control['status'] : 200;
if ($log) file_put_contents($log, json_encode($record) . "\n", FILE_APPEND | LOCK_EX);

if (isset($control['delayMs'])) usleep((int)$control['delayMs'] * 1000);
if (isset($control['status']) && $control['status'] != 200) {
    http_response_code((int)$control['status']);
    if (isset($control['location'])) header('Location: ' . $control['location']);
    echo 'error on demand';
    return true;
}
// jeedom::apiAccess refuses with HTTP 200 and a French sentence (§4.6 step 2).
if ($expectedKey !== false && $expectedKey !== '' && (!isset($_GET['apikey']) || $_GET['apikey'] !== $expectedKey)) {
    echo "Vous n'êtes pas autorisé à effectuer cette action";
    return true;
}
if (isset($_GET['test']) && $_GET['test'] !== '') {
    echo 'OK';
}
return true;
