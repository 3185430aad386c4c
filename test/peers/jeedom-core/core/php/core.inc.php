<?php
/*
 * A stand-in for Jeedom's core (jeedom/core), for the Patchbay plugin's tests: the classes and
 * functions a plugin calls (eqLogic, cmd, config, log, cache, message, jeedom, system, network,
 * init, __), with the behaviour Jeedom documents and implements, on a JSON file instead of
 * MariaDB so that several PHP processes (php -S for the callback, the CLI for deamon_start and
 * execute) share one state.
 *
 * Layout, as on a Jeedom box: <root>/core/php/core.inc.php (this file), <root>/plugins/<id>/...,
 * <root>/log/, <root>/tmp/<id>/ (jeedom::getTmpFolder), <root>/data/standin.json (the "database").
 *
 * Where Jeedom accepts something that would make broken equipment (an unknown subType, a cmd
 * without type), the stand-in refuses it with an exception, as cmd::save does for an empty
 * name, type or subType: a test then fails instead of passing on bad data.
 */

define('JEEDOM_STANDIN_ROOT', dirname(__DIR__, 2));

require_once __DIR__ . '/../class/store.class.php';
require_once __DIR__ . '/../class/config.class.php';
require_once __DIR__ . '/../class/log.class.php';
require_once __DIR__ . '/../class/jeedom.class.php';
require_once __DIR__ . '/../class/cache.class.php';
require_once __DIR__ . '/../class/eqLogic.class.php';
require_once __DIR__ . '/../class/cmd.class.php';

/* The core's autoloader finds a plugin's classes: `<id>` and `<id>Cmd` in plugins/<id>/core/class/<id>.class.php. */
spl_autoload_register(function ($class) {
    $id = preg_replace('/Cmd$/', '', $class);
    $file = JEEDOM_STANDIN_ROOT . '/plugins/' . $id . '/core/class/' . $id . '.class.php';
    if (file_exists($file)) {
        require_once $file;
    }
});

/** init(): a request parameter, from $_GET, then $_POST, then $_REQUEST (core/php/utils.inc.php). */
function init($_name, $_default = '') {
    if (isset($_GET[$_name])) return $_GET[$_name];
    if (isset($_POST[$_name])) return $_POST[$_name];
    if (isset($_REQUEST[$_name])) return $_REQUEST[$_name];
    return $_default;
}

/** __(): the translation of a French source text for the current language (core/class/translate.class.php). */
function __($_content, $_name = '') {
    $language = config::byKey('language', 'core', 'fr_FR');
    if ($language === 'fr_FR' || $_name === '') return $_content;
    if (!preg_match('#plugins/([^/]+)/(.*)$#', str_replace('\\', '/', $_name), $m)) return $_content;
    $file = JEEDOM_STANDIN_ROOT . '/plugins/' . $m[1] . '/core/i18n/' . $language . '.json';
    if (!file_exists($file)) return $_content;
    $table = json_decode(file_get_contents($file), true);
    $key = 'plugins/' . $m[1] . '/' . $m[2];
    return isset($table[$key][$_content]) ? $table[$key][$_content] : $_content;
}

function displayException($e) {
    return $e->getMessage();
}

/** system (core/class/system.class.php): what a daemon plugin uses. */
class system {
    public static function getCmdSudo() {
        return '';
    }

    /** system::kill: a pid (SIGKILL, or SIGTERM when $_kill9 is false), or every process whose command line contains a name. */
    public static function kill($_find = '', $_kill9 = true) {
        $signal = $_kill9 ? 9 : 15;
        if (is_numeric($_find)) {
            return @posix_kill(intval($_find), $signal);
        }
        $out = array();
        exec('ps ax -o pid=,args= | grep -F -- ' . escapeshellarg($_find) . ' | grep -v grep', $out);
        foreach ($out as $line) {
            $pid = intval(trim($line));
            if ($pid > 0 && $pid != getmypid()) @posix_kill($pid, $signal);
        }
        return true;
    }

    public static function fuserk($_port, $_protocol = 'tcp') {
        exec(self::getCmdSudo() . 'fuser -k ' . intval($_port) . '/' . $_protocol . ' > /dev/null 2>&1');
    }
}

/** network::getNetworkAccess: the internal address the tests set (config internalAddr/internalPort). */
class network {
    public static function getNetworkAccess($_mode = 'auto', $_protocol = '') {
        $address = config::byKey('internalAddr', 'core', '127.0.0.1');
        $port = config::byKey('internalPort', 'core', '80');
        $protocol = config::byKey('internalProtocol', 'core', 'http://');
        if ($_protocol === 'http:127.0.0.1:port:comp') return 'http://127.0.0.1:' . $port . config::byKey('internalComplement', 'core', '');
        return $protocol . $address . ':' . $port . config::byKey('internalComplement', 'core', '');
    }
}

/** message (core/class/message.class.php): the notification centre. */
class message {
    public static function add($_type, $_message, $_action = '', $_logicalId = '') {
        standinStore::update(function (&$db) use ($_type, $_message, $_action, $_logicalId) {
            $db['message'][] = array('plugin' => $_type, 'message' => $_message, 'action' => $_action, 'logicalId' => $_logicalId, 'date' => date('Y-m-d H:i:s'));
        });
    }

    public static function removeAll($_plugin = '', $_logicalId = '') {
        standinStore::update(function (&$db) use ($_plugin, $_logicalId) {
            $db['message'] = array_values(array_filter($db['message'], function ($m) use ($_plugin, $_logicalId) {
                return !($m['plugin'] === $_plugin && ($_logicalId === '' || $m['logicalId'] === $_logicalId));
            }));
        });
    }

    public static function all() {
        return standinStore::read()['message'];
    }
}
