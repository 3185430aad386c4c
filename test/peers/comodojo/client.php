<?php
/**
 * A comodojo/daemon socket client written from protocols/comodojo.md (§1 framing, §2 JSON-RPC,
 * §3 XML-RPC, §1.9 encryption), behaving like the stock rpcclient's SocketTransport: connect,
 * read and check the greeter, send a base64 PHP-serialised frame, read one frame back.
 *
 * Usage:
 *   php client.php SOCKET METHOD [JSON-PARAMS] [--xml] [--key=K]   one call, prints the decoded response as JSON
 *   php client.php -                                               a job as JSON on stdin (used by the tests)
 *
 * A job is {"socket": URI, "steps": [...]}; each step runs on the current connection
 * ("connection": "new" opens a fresh one first; the first step always does). Steps:
 *   {"op":"call", "protocol":"json"|"xml", "method":M, "params":[...], "id":ID, "notification":bool, "key":K}
 *   {"op":"batch", "calls":[{"method":M,"params":P,"id":ID|null}]}         JSON batch (id null = notification)
 *   {"op":"raw", "content_type":CT|null, "message":TEXT, "key":K}          any payload, any content type
 *   {"op":"writes", "chunks":[TEXT...], "expect":N}                         raw bytes in several writes, then N frames
 *   {"op":"read", "timeout_ms":T}                                           read one frame (or report none)
 * Output: {"greeters":[...], "results":[...]} with one result per step.
 */

const GREETER_STATUS = 'connected';
const GREETER_VERSION = '1.0';

function fail(string $why): void
{
    fwrite(STDERR, "client.php: $why\n");
    exit(2);
}

function open_socket(string $uri)
{
    if (strpos($uri, 'unix://') === 0) {
        $target = $uri;
    } else {
        $target = 'tcp://' . preg_replace('#^[a-z]+://#', '', $uri);
    }
    $errno = 0;
    $errstr = '';
    $socket = @stream_socket_client($target, $errno, $errstr, 5);
    if ($socket === false) fail("cannot connect to $uri: $errstr");
    stream_set_timeout($socket, 10);
    return $socket;
}

/** Reads one frame line (up to LF), returns the trimmed base64 text, or null on EOF/timeout. */
function read_line($socket, int $timeoutMs = 10000): ?string
{
    stream_set_timeout($socket, intdiv($timeoutMs, 1000), ($timeoutMs % 1000) * 1000);
    $line = '';
    while (!str_ends_with($line, "\n")) {
        $chunk = fgets($socket);
        if ($chunk === false) {
            return $line === '' ? null : trim($line);
        }
        $line .= $chunk;
    }
    return $line;
}

function decode_frame(string $line): array
{
    if (!str_ends_with($line, "\r\n")) fail('frame does not end in CR LF');
    $b64 = substr($line, 0, -2);
    if (preg_match('#^[A-Za-z0-9+/]*={0,2}$#', $b64) !== 1) fail("frame is not base64: $b64");
    $raw = base64_decode($b64, true);
    $value = unserialize($raw, ['allowed_classes' => false]);
    if (!is_array($value)) fail("frame is not a serialised array: $raw");
    return ['raw' => $raw, 'value' => $value];
}

function send_frame($socket, ?string $contentType, string $message): void
{
    $request = $contentType === null ? ['message' => $message] : ['content_type' => $contentType, 'message' => $message];
    fwrite($socket, base64_encode(serialize($request)) . "\r\n");
}

function aes_key(string $key): array
{
    $n = strlen($key) <= 16 ? 16 : (strlen($key) <= 24 ? 24 : 32);
    return ['aes-' . ($n * 8) . '-cbc', substr(str_pad($key, $n, "\0"), 0, $n)];
}

function encrypt_message(string $key, string $plain): string
{
    [$cipher, $k] = aes_key($key);
    return 'comodojo_encrypted_request-' . base64_encode(openssl_encrypt($plain, $cipher, $k, OPENSSL_RAW_DATA, str_repeat("\0", 16)));
}

function decrypt_message(string $key, string $message): ?string
{
    if (strpos($message, 'comodojo_encrypted_response-') !== 0) return null;
    [$cipher, $k] = aes_key($key);
    $plain = openssl_decrypt(base64_decode(substr($message, 28)), $cipher, $k, OPENSSL_RAW_DATA, str_repeat("\0", 16));
    return $plain === false ? null : $plain;
}

// ---- XML-RPC (§3) --------------------------------------------------------------------------

function xml_encode_value($value): string
{
    if ($value === null) return '<value><nil/></value>';
    if (is_bool($value)) return '<value><boolean>' . ($value ? 1 : 0) . '</boolean></value>';
    if (is_int($value)) return "<value><int>$value</int></value>";
    if (is_float($value)) return "<value><double>$value</double></value>";
    if (is_string($value)) return '<value><string>' . htmlspecialchars($value, ENT_XML1 | ENT_QUOTES, 'UTF-8') . '</string></value>';
    if (is_array($value)) {
        if (array_is_list($value)) {
            if (count($value) === 0) return '<value><array><data/></array></value>';
            return '<value><array><data>' . implode('', array_map('xml_encode_value', $value)) . '</data></array></value>';
        }
        $members = '';
        foreach ($value as $k => $v) {
            $members .= '<member><name>' . htmlspecialchars((string) $k, ENT_XML1) . '</name>' . xml_encode_value($v) . '</member>';
        }
        return "<value><struct>$members</struct></value>";
    }
    if (is_object($value)) return xml_encode_value((array) $value);
    fail('cannot encode ' . gettype($value));
}

function xml_encode_call(string $method, array $params): string
{
    $xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodCall><methodName>" . htmlspecialchars($method, ENT_XML1) . '</methodName><params>';
    foreach ($params as $p) $xml .= '<param>' . xml_encode_value($p) . '</param>';
    return $xml . '</params></methodCall>';
}

/** Decodes a <value>; a value without exactly one typed child is an error (what the stock decoder requires, §3.2). */
function xml_decode_value(DOMElement $value)
{
    $typed = [];
    foreach ($value->childNodes as $child) {
        if ($child instanceof DOMElement) $typed[] = $child;
        elseif ($child instanceof DOMText && trim($child->textContent) !== '') throw new RuntimeException('untyped text in <value>');
    }
    if (count($typed) !== 1) throw new RuntimeException('<value> without exactly one typed child');
    $t = $typed[0];
    switch ($t->nodeName) {
        case 'string': return $t->textContent;
        case 'int': case 'i4': return (int) $t->textContent;
        case 'double': return (float) $t->textContent;
        case 'boolean':
            if ($t->textContent !== '1' && $t->textContent !== '0') throw new RuntimeException('boolean is not 1/0');
            return $t->textContent === '1';
        case 'nil': return null;
        case 'base64': return base64_decode($t->textContent);
        case 'array':
            $out = [];
            $data = $t->getElementsByTagName('data')->item(0);
            if ($data === null) throw new RuntimeException('array without data');
            foreach ($data->childNodes as $v) if ($v instanceof DOMElement) $out[] = xml_decode_value($v);
            return $out;
        case 'struct':
            $out = new stdClass();
            foreach ($t->childNodes as $m) {
                if (!($m instanceof DOMElement)) continue;
                $name = null;
                $val = null;
                foreach ($m->childNodes as $part) {
                    if (!($part instanceof DOMElement)) continue;
                    if ($part->nodeName === 'name') $name = $part->textContent;
                    if ($part->nodeName === 'value') $val = $part;
                }
                if ($name === null || $val === null) throw new RuntimeException('bad struct member');
                $out->$name = xml_decode_value($val);
            }
            return $out;
        default: throw new RuntimeException('unknown type ' . $t->nodeName);
    }
}

/** A methodResponse as {"result": R} or {"fault": {faultCode, faultString}} (the stock client raises the latter). */
function xml_decode_response(string $xml): array
{
    $doc = new DOMDocument();
    if (!@$doc->loadXML($xml, LIBXML_NONET)) return ['xml_error' => 'not XML'];
    $root = $doc->documentElement;
    if ($root->nodeName !== 'methodResponse') return ['xml_error' => 'no methodResponse'];
    try {
        $fault = $root->getElementsByTagName('fault')->item(0);
        if ($fault !== null) {
            $v = null;
            foreach ($fault->childNodes as $c) if ($c instanceof DOMElement) $v = $c;
            $f = xml_decode_value($v);
            $intType = $fault->getElementsByTagName('int')->length > 0;
            return ['fault' => ['faultCode' => $f->faultCode, 'faultString' => $f->faultString, 'codeIsInt' => $intType]];
        }
        $value = $root->getElementsByTagName('param')->item(0);
        $v = null;
        foreach ($value->childNodes as $c) if ($c instanceof DOMElement) $v = $c;
        return ['result' => xml_decode_value($v)];
    } catch (RuntimeException $e) {
        return ['xml_error' => $e->getMessage()];
    }
}

// ---- steps ---------------------------------------------------------------------------------

/** Sends a frame and decodes the answer like the stock client: status false -> an exception. */
function exchange($socket, ?string $contentType, string $message, ?string $key, bool $json): array
{
    if ($key !== null) $message = encrypt_message($key, $message);
    send_frame($socket, $contentType, $message);
    $line = read_line($socket);
    if ($line === null) return ['closed' => true];
    $frame = decode_frame($line);
    $keys = array_keys($frame['value']);
    $result = ['keys' => $keys, 'raw' => $frame['raw'], 'status' => $frame['value']['status'] ?? null];
    $msg = $frame['value']['message'] ?? null;
    if ($result['status'] === false) {
        $result['exception'] = $msg;
        return $result;
    }
    $result['encrypted'] = is_string($msg) && strpos($msg, 'comodojo_encrypted_response-') === 0;
    if ($key !== null && $result['encrypted']) $msg = decrypt_message($key, $msg);
    $result['message'] = $msg;
    if ($msg === null) return $result;
    if ($json) $result['decoded'] = json_decode($msg);
    elseif (!$result['encrypted']) $result += xml_decode_response($msg);
    return $result;
}

function run_step($socket, array $step): array
{
    $op = $step['op'] ?? 'call';
    $key = $step['key'] ?? null;
    if ($op === 'call') {
        $protocol = $step['protocol'] ?? 'json';
        $params = $step['params'] ?? [];
        if ($protocol === 'xml') return exchange($socket, 'text/xml', xml_encode_call($step['method'], $params), $key, false);
        $request = ['jsonrpc' => '2.0', 'method' => $step['method'], 'params' => $params];
        if (empty($step['notification'])) $request['id'] = $step['id'] ?? bin2hex(random_bytes(16));
        return exchange($socket, 'application/json', json_encode($request), $key, true);
    }
    if ($op === 'batch') {
        $batch = [];
        foreach ($step['calls'] as $c) {
            $r = ['jsonrpc' => '2.0', 'method' => $c['method'], 'params' => $c['params'] ?? []];
            if (($c['id'] ?? null) !== null) $r['id'] = $c['id'];
            $batch[] = $r;
        }
        return exchange($socket, 'application/json', json_encode($batch), $key, true);
    }
    if ($op === 'raw') {
        $ct = array_key_exists('content_type', $step) ? $step['content_type'] : 'application/json';
        return exchange($socket, $ct, $step['message'], $key, $ct === 'application/json');
    }
    if ($op === 'writes') {
        foreach ($step['chunks'] as $chunk) {
            fwrite($socket, $chunk);
            fflush($socket);
            usleep(20000);
        }
        $frames = [];
        for ($i = 0; $i < ($step['expect'] ?? 1); $i++) {
            $line = read_line($socket, $step['timeout_ms'] ?? 10000);
            if ($line === null) break;
            $frames[] = decode_frame($line)['value'];
        }
        return ['frames' => $frames];
    }
    if ($op === 'read') {
        $line = read_line($socket, $step['timeout_ms'] ?? 500);
        if ($line === null) return ['none' => true, 'eof' => feof($socket)];
        return ['frame' => decode_frame($line)['value']];
    }
    fail("unknown op $op");
}

function run_job(array $job): array
{
    $out = ['greeters' => [], 'results' => []];
    $socket = null;
    foreach ($job['steps'] as $i => $step) {
        if ($socket === null || ($step['connection'] ?? 'same') === 'new') {
            if ($socket !== null) fclose($socket);
            $socket = open_socket($job['socket']);
            $line = read_line($socket);
            if ($line === null) fail('no greeter');
            $greeter = decode_frame($line)['value'];
            // The stock client aborts unless status is "connected" and version == "1.0" (§1.5).
            if (($greeter['status'] ?? null) !== GREETER_STATUS || ($greeter['version'] ?? null) != GREETER_VERSION) fail('bad greeter');
            $out['greeters'][] = $line;
        }
        $out['results'][] = run_step($socket, $step);
    }
    if ($socket !== null) fclose($socket);
    return $out;
}

if (($argv[1] ?? null) === '-') {
    $job = json_decode(stream_get_contents(STDIN), true);
    if (!is_array($job)) fail('stdin is not a JSON job');
    echo json_encode(run_job($job), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION), "\n";
    exit(0);
}
if (count($argv) < 3) {
    fwrite(STDERR, "usage: php client.php SOCKET METHOD [JSON-PARAMS] [--xml] [--key=K]\n       php client.php - < job.json\n");
    exit(64);
}
$xml = in_array('--xml', $argv, true);
$key = null;
foreach ($argv as $a) if (strpos($a, '--key=') === 0) $key = substr($a, 6);
$params = isset($argv[3]) && $argv[3][0] !== '-' ? json_decode($argv[3], true) : [];
$result = run_job(['socket' => $argv[1], 'steps' => [['op' => 'call', 'protocol' => $xml ? 'xml' : 'json', 'method' => $argv[2], 'params' => $params, 'key' => $key]]]);
$r = $result['results'][0];
echo json_encode($r['decoded'] ?? $r['result'] ?? $r['fault'] ?? $r, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
exit(isset($r['fault']) || isset($r['exception']) ? 1 : 0);
