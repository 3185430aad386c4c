<?php
/*
 * The Patchbay plugin for Jeedom: Patchbay is this plugin's daemon (`patchbay jeedom ...`, see
 * packages/adapter-jeedom/README.md in the Patchbay repository). Each Patchbay device becomes
 * one eqLogic (logicalId = the device id) with one cmd per channel, built from the description
 * Patchbay posts to core/php/jeePatchbay.php; an action cmd sends a command to the daemon's
 * socket with a correlation id, and the reply comes back to the callback.
 */

require_once __DIR__ . '/../../../../core/php/core.inc.php';

class patchbay extends eqLogic {
	const DEFAULT_PORT = 55071;
	const DEFAULT_DRAIN_MS = 5000;
	/** What deamon_stop waits beyond drainTimeoutMs before SIGKILL: the process exit itself, on a slow box. */
	const STOP_MARGIN_MS = 3000;
	const DEFAULT_REPLY_WAIT_MS = 3000;

	/* ************************* Settings and paths ************************* */

	public static function pidFile() {
		return jeedom::getTmpFolder(__CLASS__) . '/deamon.pid';
	}

	/** The gateway config the plugin writes from its settings at each start (it holds no secret: the key goes on the command line as Jeedom does). */
	public static function gatewayConfigFile() {
		return jeedom::getTmpFolder(__CLASS__) . '/patchbay.json';
	}

	/** The journal and the gateway's data: in the plugin's own data folder, which Jeedom's backups include. */
	public static function dataDir() {
		$dir = __DIR__ . '/../../data';
		if (!is_dir($dir)) {
			@mkdir($dir, 0700, true);
		}
		return realpath($dir);
	}

	public static function resourcesDir() {
		return realpath(__DIR__ . '/../../resources');
	}

	/** The patchbay launcher: the release the dependency install unpacked, unless the user named another one. */
	public static function binary() {
		$custom = trim((string) config::byKey('binary', __CLASS__, ''));
		if ($custom !== '') {
			return $custom;
		}
		return self::resourcesDir() . '/patchbay/bin/patchbay';
	}

	public static function socketPort() {
		return intval(config::byKey('socketport', __CLASS__, self::DEFAULT_PORT));
	}

	public static function drainTimeoutMs() {
		$ms = config::byKey('drainTimeoutMs', __CLASS__, self::DEFAULT_DRAIN_MS);
		return is_numeric($ms) && $ms >= 0 ? intval($ms) : self::DEFAULT_DRAIN_MS;
	}

	/**
	 * The devices the gateway bridges: the JSON list from the configuration page (Patchbay's
	 * `devices:` entries). Returns array(list, error message or null).
	 */
	public static function configuredDevices() {
		$raw = trim((string) config::byKey('devices', __CLASS__, ''));
		if ($raw === '') {
			return array(array(array('id' => 'thermo1', 'driver' => 'sim', 'options' => array('interval' => 5000))), null);
		}
		$devices = json_decode($raw, true);
		if (!is_array($devices) || array_keys($devices) !== range(0, count($devices) - 1)) {
			return array(array(), __('La liste des appareils doit être une liste JSON, par exemple [{"id": "thermo1", "driver": "sim"}]', __FILE__));
		}
		foreach ($devices as $i => $device) {
			if (!is_array($device) || !isset($device['id']) || !is_string($device['id']) || $device['id'] === '' || !isset($device['driver']) || !is_string($device['driver'])) {
				return array(array(), __('Appareil sans "id" ou sans "driver" à la position', __FILE__) . ' ' . ($i + 1));
			}
		}
		return array($devices, null);
	}

	/** Writes the gateway config (0600, in the plugin's tmp folder) and returns its path. */
	public static function writeGatewayConfig() {
		list($devices, $error) = self::configuredDevices();
		if ($error !== null) {
			throw new Exception($error);
		}
		$gateway = array(
			'name' => 'jeedom',
			'http' => array('enabled' => false),
			'dataDir' => self::dataDir(),
			'drainTimeoutMs' => self::drainTimeoutMs(),
		);
		$httpPort = intval(config::byKey('httpPort', __CLASS__, 0));
		if ($httpPort > 0 && $httpPort < 65536) {
			// /healthz, /metrics and the status page, on localhost only.
			$gateway['http'] = array('host' => '127.0.0.1', 'port' => $httpPort);
		}
		$config = array('gateway' => $gateway, 'devices' => $devices, 'hosts' => array());
		$file = self::gatewayConfigFile();
		$temp = $file . '.' . getmypid() . '.tmp';
		file_put_contents($temp, json_encode($config, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));
		chmod($temp, 0600);
		rename($temp, $file);
		return $file;
	}

	/* ************************* Daemon ************************* */

	/** True while $pid is a live process (a zombie is not: it has exited and only waits to be reaped). */
	public static function processAlive($pid) {
		if ($pid <= 0) {
			return false;
		}
		$stat = @file_get_contents('/proc/' . $pid . '/stat');
		if ($stat !== false) {
			$close = strrpos($stat, ')');
			$state = $close === false ? '' : substr($stat, $close + 2, 1);
			return $state !== 'Z' && $state !== 'X';
		}
		return @posix_kill($pid, 0);
	}

	public static function deamon_info() {
		$return = array('log' => __CLASS__ . '_daemon', 'state' => 'nok');
		$pidFile = self::pidFile();
		if (file_exists($pidFile)) {
			// posix_getsid, as Jeedom's own deamon_info does: 0 or false means no such process.
			if (@posix_getsid(intval(trim(file_get_contents($pidFile))))) {
				$return['state'] = 'ok';
			} else {
				shell_exec(system::getCmdSudo() . 'rm -rf ' . escapeshellarg($pidFile) . ' 2>&1 > /dev/null');
			}
		}
		$return['launchable'] = 'ok';
		$port = config::byKey('socketport', __CLASS__, self::DEFAULT_PORT);
		list(, $devicesError) = self::configuredDevices();
		if (!is_executable(self::binary())) {
			$return['launchable'] = 'nok';
			$return['launchable_message'] = __('Patchbay n\'est pas installé : lancez l\'installation des dépendances', __FILE__);
		} elseif (!ctype_digit((string) $port) || intval($port) < 1 || intval($port) > 65535) {
			$return['launchable'] = 'nok';
			$return['launchable_message'] = __('Le port du démon doit être un entier entre 1 et 65535', __FILE__);
		} elseif ($devicesError !== null) {
			$return['launchable'] = 'nok';
			$return['launchable_message'] = $devicesError;
		}
		return $return;
	}

	/** The `patchbay jeedom` command line, with the options Jeedom passes to a template daemon plus the gateway config. */
	public static function daemonCommand($configFile) {
		$callback = network::getNetworkAccess('internal', 'http:127.0.0.1:port:comp') . '/plugins/' . __CLASS__ . '/core/php/jee' . ucfirst(__CLASS__) . '.php';
		$cycle = config::byKey('cycle', __CLASS__, '0.3');
		$cmd = escapeshellarg(self::binary()) . ' jeedom';
		$cmd .= ' --loglevel ' . log::convertLogLevel(log::getLogLevel(__CLASS__));
		$cmd .= ' --socketport ' . self::socketPort();
		$cmd .= ' --sockethost 127.0.0.1';
		$cmd .= ' --callback ' . escapeshellarg($callback);
		$cmd .= ' --apikey ' . jeedom::getApiKey(__CLASS__);
		$cmd .= ' --pid ' . escapeshellarg(self::pidFile());
		$cmd .= ' --cycle ' . escapeshellarg(is_numeric($cycle) ? strval($cycle) : '0.3');
		$cmd .= ' --config ' . escapeshellarg($configFile);
		return $cmd;
	}

	public static function deamon_start() {
		self::deamon_stop();
		$info = self::deamon_info();
		if ($info['launchable'] != 'ok') {
			throw new Exception(__('Veuillez vérifier la configuration', __FILE__) . ' : ' . (isset($info['launchable_message']) ? $info['launchable_message'] : ''));
		}
		$cmd = self::daemonCommand(self::writeGatewayConfig());
		log::add(__CLASS__, 'info', __('Lancement du démon Patchbay', __FILE__));
		exec($cmd . ' >> ' . log::getPathToLog(__CLASS__ . '_daemon') . ' 2>&1 &');
		// Jeedom polls once a second for 20-30 s; Patchbay writes its pid file in well under a second.
		for ($i = 0; $i < 120; $i++) {
			$info = self::deamon_info();
			if ($info['state'] == 'ok') {
				message::removeAll(__CLASS__, 'unableStartDeamon');
				return true;
			}
			usleep(250000);
		}
		log::add(__CLASS__, 'error', __('Impossible de lancer le démon Patchbay, vérifiez le log patchbay_daemon', __FILE__), 'unableStartDeamon');
		return false;
	}

	/**
	 * SIGTERM, then wait for the process to exit for up to drainTimeoutMs plus a margin (Patchbay
	 * drains its outboxes, journals the rest and exits 0), and only then SIGKILL. Jeedom's
	 * documented stop (SIGTERM, then a kill -9 by name at once) kills Patchbay mid-drain.
	 */
	public static function deamon_stop() {
		$pidFile = self::pidFile();
		if (!file_exists($pidFile)) {
			return;
		}
		$pid = intval(trim(file_get_contents($pidFile)));
		if ($pid <= 0 || !self::processAlive($pid)) {
			@unlink($pidFile);
			return;
		}
		$cmdline = str_replace("\0", ' ', (string) @file_get_contents('/proc/' . $pid . '/cmdline'));
		if ($cmdline !== '' && strpos($cmdline, $pidFile) === false) {
			// The pid was reused by another process since Patchbay wrote it: leave that one alone.
			log::add(__CLASS__, 'warning', __('Le fichier pid désigne un autre processus', __FILE__) . ' (' . $pid . ')');
			@unlink($pidFile);
			return;
		}
		$waitMs = self::drainTimeoutMs() + self::STOP_MARGIN_MS;
		$started = microtime(true);
		posix_kill($pid, 15);
		while (self::processAlive($pid) && (microtime(true) - $started) * 1000 < $waitMs) {
			usleep(50000);
		}
		if (self::processAlive($pid)) {
			log::add(__CLASS__, 'error', __('Le démon ne s\'est pas arrêté après', __FILE__) . ' ' . $waitMs . ' ms : SIGKILL');
			posix_kill($pid, 9);
			// A kill is delivered, not done: wait for the end so a start right after finds the port free.
			for ($i = 0; $i < 20 && self::processAlive($pid); $i++) {
				usleep(50000);
			}
		} else {
			log::add(__CLASS__, 'info', __('Démon arrêté en', __FILE__) . ' ' . round((microtime(true) - $started) * 1000) . ' ms');
		}
		@unlink($pidFile);
	}

	/* ************************* Dependencies ************************* */

	/** The release checksum shipped with the plugin (resources/dist/*.sha256), or null when it ships none. */
	public static function shippedChecksum() {
		$files = glob(self::resourcesDir() . '/dist/patchbay-*.tar.gz.sha256');
		if (!$files) {
			return null;
		}
		sort($files);
		$line = trim((string) file_get_contents(end($files)));
		return strtolower(strtok($line, " \t"));
	}

	public static function dependancy_info() {
		$return = array('log' => log::getPathToLog(__CLASS__ . '_update'), 'progress_file' => jeedom::getTmpFolder(__CLASS__) . '/dependance', 'state' => 'nok');
		if (file_exists($return['progress_file'])) {
			$return['state'] = 'in_progress';
			return $return;
		}
		$installed = self::resourcesDir() . '/patchbay';
		if (is_executable($installed . '/bin/patchbay')) {
			$expected = self::shippedChecksum();
			$actual = @file_get_contents($installed . '/.release.sha256');
			// The unpacked release must be the one this plugin version ships (an update ships a new one).
			if ($expected === null || ($actual !== false && strtolower(trim($actual)) === $expected)) {
				$return['state'] = 'ok';
			}
		}
		return $return;
	}

	public static function dependancy_install() {
		log::remove(__CLASS__ . '_update');
		$url = trim((string) config::byKey('releaseUrl', __CLASS__, ''));
		$script = self::resourcesDir() . '/install_#stype#.sh ' . escapeshellarg(jeedom::getTmpFolder(__CLASS__) . '/dependance');
		if ($url !== '') {
			$script .= ' ' . escapeshellarg($url);
		}
		return array('script' => $script, 'log' => log::getPathToLog(__CLASS__ . '_update'));
	}

	/* ************************* Commands to the daemon ************************* */

	/** sendToDaemon: one JSON object on one TCP connection to the daemon's socket, with the plugin's key (as the template does). */
	public static function sendToDaemon($params) {
		$info = self::deamon_info();
		if ($info['state'] != 'ok') {
			throw new Exception(__('Le démon n\'est pas démarré', __FILE__));
		}
		$params['apikey'] = jeedom::getApiKey(__CLASS__);
		$payload = json_encode($params);
		$socket = socket_create(AF_INET, SOCK_STREAM, 0);
		if ($socket === false || !@socket_connect($socket, '127.0.0.1', self::socketPort())) {
			throw new Exception(__('Le démon ne répond pas sur le port', __FILE__) . ' ' . self::socketPort());
		}
		$sent = 0;
		while ($sent < strlen($payload)) {
			$written = socket_write($socket, substr($payload, $sent), strlen($payload) - $sent);
			if ($written === false) {
				socket_close($socket);
				throw new Exception(__('Envoi au démon impossible', __FILE__));
			}
			$sent += $written;
		}
		socket_close($socket);
	}

	/**
	 * Sends a command for one of this plugin's action cmds, with a fresh correlation id that the
	 * reply carries back to the callback; returns the id.
	 */
	public static function sendCommand($cmd, $message) {
		$id = 'jeedom-' . $cmd->getId() . '-' . bin2hex(random_bytes(6));
		$message['id'] = $id;
		// The callback finds the asking cmd from the id (kept for a while: a reply can come late).
		cache::set('patchbay::pending::' . $id, $cmd->getId(), 600);
		self::sendToDaemon($message);
		return $id;
	}

	/* ************************* From the callback ************************* */

	/** A device id as Patchbay sends it: a short printable string. */
	public static function validDeviceId($device) {
		return is_string($device) && $device !== '' && strlen($device) <= 127 && preg_match('/^[\x21-\x7e]+$/', $device);
	}

	/** Why a described cmd cannot be created (null when it can). */
	public static function cmdProblem($c) {
		if (!is_array($c)) return 'not an object';
		if (!isset($c['logicalId']) || !is_string($c['logicalId']) || $c['logicalId'] === '' || strlen($c['logicalId']) > 127) return 'no logicalId';
		$subTypes = array('info' => array('numeric', 'binary', 'string'), 'action' => array('other', 'slider', 'select'));
		if (!isset($c['type']) || !isset($subTypes[$c['type']])) return 'type must be info or action';
		if (!isset($c['subType']) || !in_array($c['subType'], $subTypes[$c['type']], true)) return 'subType must be one of ' . implode(', ', $subTypes[$c['type']]);
		if (isset($c['name']) && !is_string($c['name'])) return 'name must be a string';
		foreach (array('minValue', 'maxValue', 'step') as $key) {
			if (isset($c[$key]) && !is_int($c[$key]) && !is_float($c[$key])) return $key . ' must be a number';
		}
		if (isset($c['minValue'], $c['maxValue']) && $c['minValue'] > $c['maxValue']) return 'minValue above maxValue';
		if (isset($c['unite']) && (!is_string($c['unite']) || strlen($c['unite']) > 16)) return 'unite must be a short string';
		if (isset($c['generic_type']) && (!is_string($c['generic_type']) || !preg_match('/^[A-Z0-9_]{1,64}$/', $c['generic_type']))) return 'generic_type must be a Jeedom generic type name';
		if ($c['type'] === 'action') {
			$hasChannel = isset($c['channel']) && is_string($c['channel']) && $c['channel'] !== '';
			$hasAction = isset($c['action']) && is_string($c['action']) && $c['action'] !== '';
			if (!$hasChannel && !$hasAction) return 'an action needs a channel or an action';
			if ($c['subType'] === 'select' && (!isset($c['listValue']) || !is_string($c['listValue']) || trim($c['listValue']) === '')) return 'a select needs a listValue';
			if ($c['subType'] === 'other' && $hasChannel && !array_key_exists('send', $c)) return 'a channel button needs the value it sends';
		}
		return null;
	}

	/** An eqLogic name that no other equipment of the plugin has yet. */
	private static function freeName($name, $device) {
		$taken = array();
		foreach (eqLogic::byType(__CLASS__) as $eq) {
			$taken[$eq->getName()] = true;
		}
		if (!isset($taken[$name])) return $name;
		$candidate = $name . ' (' . $device . ')';
		for ($i = 2; isset($taken[$candidate]); $i++) {
			$candidate = $name . ' (' . $device . ' ' . $i . ')';
		}
		return $candidate;
	}

	/**
	 * The eqLogic and cmds of one device from its description (BRIEF contract: name, manufacturer,
	 * model, cmds[]). A bad cmd is logged and skipped; a bad description changes nothing.
	 * Returns the eqLogic, or null.
	 */
	public static function applyDescription($device, $description) {
		if (!self::validDeviceId($device)) {
			log::add(__CLASS__, 'error', 'Description refused: bad device id ' . substr(json_encode($device), 0, 80));
			return null;
		}
		if (!is_array($description) || !isset($description['cmds']) || !is_array($description['cmds'])) {
			log::add(__CLASS__, 'error', 'Description of ' . $device . ' refused: no cmds list');
			return null;
		}
		$cmds = array();
		$seen = array();
		foreach ($description['cmds'] as $i => $c) {
			$problem = self::cmdProblem($c);
			if ($problem === null && isset($seen[$c['logicalId']])) $problem = 'logicalId repeated';
			if ($problem !== null) {
				log::add(__CLASS__, 'error', 'Description of ' . $device . ': cmd ' . $i . ' skipped (' . $problem . ')');
				continue;
			}
			$seen[$c['logicalId']] = true;
			$cmds[] = $c;
		}
		$name = isset($description['name']) && is_string($description['name']) && trim($description['name']) !== '' ? $description['name'] : $device;
		$eqLogic = eqLogic::byLogicalId($device, __CLASS__);
		if (!is_object($eqLogic)) {
			$eqLogic = new patchbay();
			$eqLogic->setLogicalId($device);
			$eqLogic->setEqType_name(__CLASS__);
			$eqLogic->setName(self::freeName(substr($name, 0, 127), $device));
			$eqLogic->setIsEnable(1);
			$eqLogic->setIsVisible(1);
			log::add(__CLASS__, 'info', 'New equipment for device ' . $device);
		}
		// The user's name and object stay; what the device says about itself is refreshed.
		foreach (array('manufacturer', 'model', 'firmware') as $key) {
			$eqLogic->setConfiguration($key, isset($description[$key]) && is_string($description[$key]) ? $description[$key] : '');
		}
		$eqLogic->setConfiguration('device', $device);
		$eqLogic->save();

		// Infos first, so that an action's `value` (its info's logicalId) can name the info's id.
		usort($cmds, function ($a, $b) {
			return ($a['type'] === 'info' ? 0 : 1) - ($b['type'] === 'info' ? 0 : 1);
		});
		$infoIds = array();
		$names = array();
		$order = 0;
		foreach ($cmds as $c) {
			try {
				$cmd = $eqLogic->getCmd(null, $c['logicalId']);
				if (!is_object($cmd)) {
					$cmd = new patchbayCmd();
					$cmd->setEqLogic_id($eqLogic->getId());
					$cmd->setLogicalId($c['logicalId']);
					$cmd->setIsVisible(1);
				}
				$cmdName = isset($c['name']) && trim($c['name']) !== '' ? $c['name'] : $c['logicalId'];
				if (isset($names[$cmdName])) $cmdName .= ' (' . $c['logicalId'] . ')';
				$names[$cmdName] = true;
				$cmd->setName(substr($cmdName, 0, 127));
				$cmd->setType($c['type']);
				$cmd->setSubType($c['subType']);
				$cmd->setOrder($order++);
				$cmd->setUnite(isset($c['unite']) ? $c['unite'] : '');
				$cmd->setGeneric_type(isset($c['generic_type']) ? $c['generic_type'] : '');
				$cmd->setConfiguration('minValue', isset($c['minValue']) ? $c['minValue'] : '');
				$cmd->setConfiguration('maxValue', isset($c['maxValue']) ? $c['maxValue'] : '');
				$cmd->setConfiguration('listValue', isset($c['listValue']) ? $c['listValue'] : '');
				if (isset($c['step'])) $cmd->setDisplay('parameters', array('step' => $c['step']));
				if ($c['type'] === 'info') {
					$cmd->setIsHistorized(!empty($c['isHistorized']) ? 1 : 0);
					// A momentary channel (a button) fires on every press, even the same one again.
					if (isset($c['momentary']) && $c['momentary']) $cmd->setConfiguration('repeatEventManagement', 'always');
				} else {
					$cmd->setConfiguration('channel', isset($c['channel']) ? $c['channel'] : '');
					$cmd->setConfiguration('deviceAction', isset($c['action']) ? $c['action'] : '');
					$cmd->setConfiguration('send', array_key_exists('send', $c) ? json_encode($c['send']) : '');
					$linked = isset($c['value']) && is_string($c['value']) && isset($infoIds[$c['value']]) ? $infoIds[$c['value']] : '';
					$cmd->setValue($linked);
				}
				$cmd->setConfiguration('described', 1);
				$cmd->save();
				if ($c['type'] === 'info') $infoIds[$c['logicalId']] = $cmd->getId();
			} catch (Throwable $e) {
				log::add(__CLASS__, 'error', 'Description of ' . $device . ': cmd ' . $c['logicalId'] . ' not saved: ' . $e->getMessage());
			}
		}
		// A channel the device no longer describes goes (cmds the user added by hand stay).
		foreach ($eqLogic->getCmd() as $cmd) {
			if ($cmd->getConfiguration('described') == 1 && !isset($seen[$cmd->getLogicalId()])) {
				log::add(__CLASS__, 'info', 'Device ' . $device . ' no longer has ' . $cmd->getLogicalId() . ': cmd removed');
				$cmd->remove();
			}
		}
		return $eqLogic;
	}
}

class patchbayCmd extends cmd {
	/**
	 * An action cmd: the command to its device (channel + the value it sends, the slider's or the
	 * select's value, or a device action), then the reply: waited for up to replyWaitMs so that a
	 * refusal (read-only, out of range, device timeout) shows to the user as this cmd's error.
	 */
	public function execute($_options = array()) {
		if ($this->getType() != 'action') {
			return;
		}
		$eqLogic = $this->getEqLogic();
		$message = array('action' => 'command', 'device' => $eqLogic->getLogicalId());
		$deviceAction = $this->getConfiguration('deviceAction', '');
		if ($deviceAction !== '') {
			$message['deviceAction'] = $deviceAction;
		} else {
			$message['channel'] = $this->getConfiguration('channel');
			switch ($this->getSubType()) {
				case 'slider':
					$raw = isset($_options['slider']) ? $_options['slider'] : '';
					$message['value'] = is_numeric($raw) ? $raw + 0 : $raw;
					break;
				case 'select':
					$message['value'] = isset($_options['select']) ? $_options['select'] : '';
					break;
				default:
					$message['value'] = json_decode($this->getConfiguration('send', 'null'), true);
			}
		}
		$id = patchbay::sendCommand($this, $message);
		$waitMs = intval(config::byKey('replyWaitMs', 'patchbay', patchbay::DEFAULT_REPLY_WAIT_MS));
		if ($waitMs <= 0) {
			// Not waiting: the reply shows on the cmd (lastReply) and in the log when it comes.
			return null;
		}
		$deadline = microtime(true) + $waitMs / 1000;
		do {
			$reply = cache::byKey('patchbay::reply::' . $id)->getValue(null);
			if (is_array($reply)) {
				if (empty($reply['ok'])) {
					throw new Exception($this->getHumanName() . ' : ' . (isset($reply['error']) ? $reply['error'] : 'refused') . (isset($reply['code']) ? ' (' . $reply['code'] . ')' : ''));
				}
				return isset($reply['value']) ? $reply['value'] : true;
			}
			usleep(50000);
		} while (microtime(true) < $deadline);
		log::add('patchbay', 'debug', 'No reply yet for ' . $id . ' after ' . $waitMs . ' ms; it will show on the cmd when it comes');
		return null;
	}
}
