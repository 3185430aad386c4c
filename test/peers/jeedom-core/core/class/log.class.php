<?php
/* log (core/class/log.class.php): one file per log name under <root>/log, lines `[date][LEVEL] message`. */

class log {
    private static $levels = array('debug' => 100, 'info' => 200, 'notice' => 250, 'warning' => 300, 'error' => 400, 'critical' => 500, 'alert' => 550, 'emergency' => 600);

    public static function getPathToLog($_log = 'core') {
        $dir = JEEDOM_STANDIN_ROOT . '/log';
        if (!is_dir($dir)) @mkdir($dir, 0775, true);
        return $dir . '/' . $_log;
    }

    /** The plugin's level number: config `log::level::<plugin>` is {"<number>": "1"} or {"default": "1"} (then the global level, 400). */
    public static function getLogLevel($_log) {
        $specific = config::byKey('log::level::' . $_log, 'core', array('default' => '1'));
        if (is_array($specific)) {
            foreach ($specific as $level => $on) {
                if ($on == '1' && is_numeric($level)) return intval($level);
            }
        }
        return intval(config::byKey('log::level', 'core', 400));
    }

    /** log::convertLogLevel: the name a daemon gets in --loglevel; 600 and above, or anything unknown, is "none". */
    public static function convertLogLevel($_level = 100) {
        foreach (self::$levels as $name => $number) {
            if ($number == $_level && $number < 600) return $name;
        }
        return 'none';
    }

    public static function add($_log, $_type, $_message, $_logicalId = '') {
        $type = strtolower($_type);
        $number = isset(self::$levels[$type]) ? self::$levels[$type] : 400;
        if ($number < self::getLogLevel($_log)) return;
        $line = '[' . date('Y-m-d H:i:s') . '][' . strtoupper($type) . '] ' . $_message . "\n";
        file_put_contents(self::getPathToLog($_log), $line, FILE_APPEND | LOCK_EX);
    }

    public static function remove($_log = '') {
        @unlink(self::getPathToLog($_log));
    }
}
