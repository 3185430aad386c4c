<?php
/* The stand-in's "database": one JSON file, read and written under flock, shared by every PHP process of a test. */

class standinStore {
    private static function path() {
        $dir = JEEDOM_STANDIN_ROOT . '/data';
        if (!is_dir($dir)) @mkdir($dir, 0700, true);
        return $dir . '/standin.json';
    }

    private static function empty_db() {
        return array('config' => array(), 'eqLogic' => array(), 'cmd' => array(), 'cache' => array(), 'message' => array(), 'events' => array(), 'nextId' => 1);
    }

    private static function decode($text) {
        $db = ($text === '' || $text === false) ? null : json_decode($text, true);
        return is_array($db) ? array_merge(self::empty_db(), $db) : self::empty_db();
    }

    /** The whole state. Writers replace the file by a rename, so a reader (this, or a test) never sees half of it. */
    public static function read() {
        $text = @file_get_contents(self::path());
        return self::decode($text);
    }

    /** Runs $fn(&$db) under an exclusive lock (a lock file beside the data) and writes the result; returns what $fn returned. */
    public static function update($fn) {
        $lock = fopen(self::path() . '.lock', 'c');
        flock($lock, LOCK_EX);
        try {
            $db = self::decode(@file_get_contents(self::path()));
            $result = $fn($db);
            $temp = self::path() . '.' . getmypid() . '.tmp';
            file_put_contents($temp, json_encode($db, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION));
            rename($temp, self::path());
        } finally {
            flock($lock, LOCK_UN);
            fclose($lock);
        }
        return $result;
    }
}
