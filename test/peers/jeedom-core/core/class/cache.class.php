<?php
/* cache (core/class/cache.class.php): key/value with a lifetime, shared between PHP processes. */

class cache {
    private $key;
    private $value;

    public static function set($_key, $_value, $_lifetime = 0) {
        standinStore::update(function (&$db) use ($_key, $_value, $_lifetime) {
            $db['cache'][$_key] = array('value' => $_value, 'expires' => $_lifetime > 0 ? microtime(true) + $_lifetime : 0);
        });
    }

    public static function byKey($_key) {
        $db = standinStore::read();
        $cache = new cache();
        $cache->key = $_key;
        if (isset($db['cache'][$_key])) {
            $entry = $db['cache'][$_key];
            if ($entry['expires'] == 0 || $entry['expires'] > microtime(true)) $cache->value = $entry['value'];
        }
        return $cache;
    }

    public static function delete($_key) {
        standinStore::update(function (&$db) use ($_key) {
            unset($db['cache'][$_key]);
        });
    }

    public function getKey() {
        return $this->key;
    }

    public function getValue($_default = '') {
        return ($this->value === null || $this->value === '') ? $_default : $this->value;
    }
}
