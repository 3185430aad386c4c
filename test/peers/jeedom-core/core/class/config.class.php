<?php
/* config (core/class/config.class.php): key/value per plugin ("core" for the core's own keys). */

class config {
    public static function byKey($_key, $_plugin = 'core', $_default = '') {
        $db = standinStore::read();
        if (isset($db['config'][$_plugin]) && array_key_exists($_key, $db['config'][$_plugin])) {
            $value = $db['config'][$_plugin][$_key];
            // Jeedom returns the default for an empty value too.
            if ($value === '' || $value === null) return $_default;
            return $value;
        }
        return $_default;
    }

    public static function save($_key, $_value, $_plugin = 'core') {
        standinStore::update(function (&$db) use ($_key, $_value, $_plugin) {
            $db['config'][$_plugin][$_key] = $_value;
        });
    }

    public static function remove($_key, $_plugin = 'core') {
        standinStore::update(function (&$db) use ($_key, $_plugin) {
            unset($db['config'][$_plugin][$_key]);
        });
    }

    /** config::genKey: 64 characters of [a-zA-Z0-9], as the current core makes them. */
    public static function genKey($_car = 64) {
        $chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
        $key = '';
        for ($i = 0; $i < $_car; $i++) $key .= $chars[random_int(0, strlen($chars) - 1)];
        return $key;
    }
}
