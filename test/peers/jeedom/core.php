<?php
/*
 * What Jeedom's PHP does with a plugin daemon (protocols/jeedom.md §2.1, §2.5, §3.6, §6), as a
 * CLI the tests drive:
 *   php core.php start <pidfile> <logfile> <command...>   deamon_start: `<cmd> >> log 2>&1 &`, then poll deamon_info
 *   php core.php info <pidfile>                           deamon_info: posix_getsid on the pid file
 *   php core.php send <port> <apikey> <json params>       sendToDaemon: socket_create/socket_write of json_encode
 *   php core.php stop <pidfile> [<name to kill -9>]       deamon_stop: SIGTERM (SIGKILL if that fails), then system::kill
 * Each prints one JSON line.
 */

function deamon_info($pidfile) {
    $return = array('state' => 'nok');
    if (file_exists($pidfile)) {
        $pid = trim(file_get_contents($pidfile));
        if (@posix_getsid(intval($pid))) {
            $return['state'] = 'ok';
            $return['pid'] = intval($pid);
        } else {
            // A stale file is removed (deamon_info in D1/P1/P2/P3 does `rm -rf` via sudo).
            @unlink($pidfile);
        }
    }
    return $return;
}

function system_kill($name) {
    // system::kill: every process whose command line matches, SIGKILL (C5).
    $out = array();
    exec("ps ax | grep -ie " . escapeshellarg($name) . " | grep -v grep | grep -v core.php | awk '{print $1}'", $out);
    $killed = array();
    foreach ($out as $pid) {
        $pid = intval(trim($pid));
        if ($pid > 0 && $pid != getmypid()) {
            @posix_kill($pid, 9);
            $killed[] = $pid;
        }
    }
    return $killed;
}

$action = isset($argv[1]) ? $argv[1] : '';
switch ($action) {
    case 'start':
        $pidfile = $argv[2];
        $logfile = $argv[3];
        $cmd = implode(' ', array_slice($argv, 4));
        $started = microtime(true);
        exec($cmd . ' >> ' . $logfile . ' 2>&1 &');
        $state = 'nok';
        // deamon_start polls deamon_info; here every 50 ms for up to 5 s, to time it (the spec asks for 2 s, §10 item 9).
        for ($i = 0; $i < 100; $i++) {
            $info = deamon_info($pidfile);
            if ($info['state'] == 'ok') { $state = 'ok'; break; }
            usleep(50000);
        }
        echo json_encode(array('state' => $state, 'elapsed' => microtime(true) - $started)) . "\n";
        break;
    case 'info':
        echo json_encode(deamon_info($argv[2])) . "\n";
        break;
    case 'send':
        $port = intval($argv[2]);
        $params = json_decode($argv[4], true);
        if (!is_array($params)) $params = array();
        $params['apikey'] = $argv[3];
        $payload = json_encode($params);
        $socket = socket_create(AF_INET, SOCK_STREAM, 0);
        $ok = @socket_connect($socket, '127.0.0.1', $port);
        $written = $ok ? socket_write($socket, $payload, strlen($payload)) : false;
        socket_close($socket);
        echo json_encode(array('connected' => $ok, 'written' => $written, 'payload' => $payload)) . "\n";
        break;
    case 'stop':
        $pidfile = $argv[2];
        $result = array('term' => false, 'killed' => array());
        if (file_exists($pidfile)) {
            $pid = intval(trim(file_get_contents($pidfile)));
            $result['term'] = posix_kill($pid, 15);
            if (!$result['term']) posix_kill($pid, 9);
        }
        if (isset($argv[3]) && $argv[3] !== '') {
            if (isset($argv[4])) usleep(intval($argv[4]) * 1000);
            $result['killed'] = system_kill($argv[3]);
        }
        echo json_encode($result) . "\n";
        break;
    default:
        fwrite(STDERR, "usage: php core.php start|info|send|stop ...\n");
        exit(2);
}
