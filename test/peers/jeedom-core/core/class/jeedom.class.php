<?php
/* jeedom (core/class/jeedom.class.php): the plugin API key, its check, and the tmp folder. */

class jeedom {
    /** jeedom::getApiKey: the plugin's key, created on first use (and a "disable" API mode switched back on). */
    public static function getApiKey($_plugin = 'core') {
        if (config::byKey('api', $_plugin) == '') {
            config::save('api', config::genKey(), $_plugin);
        }
        if (config::byKey('api::' . $_plugin . '::mode', 'core', 'enable') == 'disable') {
            config::save('api::' . $_plugin . '::mode', 'enable', 'core');
        }
        return config::byKey('api', $_plugin);
    }

    private static function apiModeResult($_mode = 'enable') {
        switch ($_mode) {
            case 'disable':
                return false;
            case 'localhost':
                return isset($_SERVER['REMOTE_ADDR']) && $_SERVER['REMOTE_ADDR'] === '127.0.0.1';
            default:
                return true;
        }
    }

    /** jeedom::apiAccess: non-blank, at least 16 characters, the API mode allows it, and strictly the plugin's key. */
    public static function apiAccess($_apikey = '', $_plugin = 'core') {
        // As the core: trim() of a non-string (`?apikey[]=`) is a TypeError on PHP 8, so a caller must pass a string.
        if (trim($_apikey) == '') return false;
        if (strlen($_apikey) < 16) return false;
        if ($_plugin != 'core' && !self::apiModeResult(config::byKey('api::' . $_plugin . '::mode', 'core', 'enable'))) return false;
        $apikey = self::getApiKey($_plugin);
        return $apikey != '' && $apikey === $_apikey;
    }

    /** jeedom::getTmpFolder: <tmp>/<plugin>, created 0774 (here under the stand-in root rather than /tmp/jeedom). */
    public static function getTmpFolder($_plugin = null) {
        $path = JEEDOM_STANDIN_ROOT . '/tmp';
        if ($_plugin !== null) $path .= '/' . $_plugin;
        if (!is_dir($path)) {
            @mkdir($path, 0774, true);
        }
        return $path;
    }
}
