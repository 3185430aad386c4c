<?php
/*
 * The callback Patchbay posts to (`--callback .../plugins/patchbay/core/php/jeePatchbay.php`):
 * GET ?apikey=K at start, then POST ?apikey=K with a JSON object whose keys come merged when
 * they fall in the same cycle: descriptions, devices, availability, events, replies, status.
 * Every key of a body is handled (descriptions first, so a new device's values find its cmds);
 * one bad key is logged and the others still apply.
 *
 * Answers: 200 (empty body) when the body was taken, or was a start-up GET; 401 for a missing
 * or wrong key, so Patchbay keeps the data and its start-up check fails loudly instead of
 * posting into the void; 400 for a body that is not a JSON object, which Patchbay never sends.
 */

require_once dirname(__FILE__) . '/../../../../core/php/core.inc.php';
require_once dirname(__FILE__) . '/../class/patchbay.class.php';

function patchbay_answer($status, $text = '') {
	http_response_code($status);
	header('Content-Type: text/plain; charset=utf-8');
	echo $text;
	exit();
}

/** Cuts a peer's value for a log line. */
function patchbay_quote($value) {
	$text = is_string($value) ? $value : json_encode($value);
	return strlen($text) > 120 ? substr($text, 0, 120) . '…' : $text;
}

function patchbay_handle_devices($devices) {
	foreach ($devices as $device => $channels) {
		$eqLogic = patchbay::validDeviceId($device) ? eqLogic::byLogicalId($device, 'patchbay') : null;
		if (!is_object($eqLogic)) {
			// Values before (or without) a description: no equipment is made up from them.
			log::add('patchbay', 'warning', 'Values for unknown device ' . patchbay_quote($device) . ' ignored (no description received for it)');
			continue;
		}
		if (!is_array($channels)) {
			log::add('patchbay', 'error', 'Values of ' . $device . ' are not an object: ' . patchbay_quote($channels));
			continue;
		}
		foreach ($channels as $channel => $value) {
			$cmd = $eqLogic->getCmd('info', (string) $channel);
			if (!is_object($cmd)) {
				log::add('patchbay', 'debug', 'Device ' . $device . ': no info cmd for channel ' . patchbay_quote((string) $channel));
				continue;
			}
			$eqLogic->checkAndUpdateCmd($cmd, is_array($value) ? json_encode($value) : $value);
		}
	}
}

function patchbay_handle_replies($replies) {
	foreach ($replies as $id => $reply) {
		if (!is_array($reply) || !array_key_exists('ok', $reply)) {
			log::add('patchbay', 'error', 'Reply ' . patchbay_quote((string) $id) . ' malformed: ' . patchbay_quote($reply));
			continue;
		}
		$reply = array('id' => (string) $id, 'ok' => (bool) $reply['ok'], 'value' => isset($reply['value']) ? $reply['value'] : null, 'error' => isset($reply['error']) ? (string) $reply['error'] : null, 'code' => isset($reply['code']) ? (string) $reply['code'] : null, 'time' => date('Y-m-d H:i:s'));
		$cmdId = cache::byKey('patchbay::pending::' . $id)->getValue(null);
		$cmd = $cmdId === null ? null : cmd::byId($cmdId);
		if (!is_object($cmd)) {
			log::add('patchbay', 'warning', 'Reply for unknown command id ' . patchbay_quote((string) $id) . ($reply['ok'] ? '' : ': ' . $reply['code'] . ' ' . patchbay_quote($reply['error'])));
			continue;
		}
		// On the cmd first, then where the asking execute() may be waiting for it.
		$cmd->setCache('lastReply', $reply);
		cache::set('patchbay::reply::' . $id, $reply, 600);
		cache::delete('patchbay::pending::' . $id);
		if ($reply['ok']) {
			log::add('patchbay', 'debug', 'Command ' . $cmd->getHumanName() . ' done');
		} else {
			log::add('patchbay', 'error', 'Command ' . $cmd->getHumanName() . ' refused: ' . $reply['code'] . ' ' . patchbay_quote($reply['error']));
		}
	}
}

function patchbay_handle_availability($availability) {
	foreach ($availability as $device => $entry) {
		$eqLogic = patchbay::validDeviceId($device) ? eqLogic::byLogicalId($device, 'patchbay') : null;
		if (!is_object($eqLogic) || !is_array($entry) || !isset($entry['state']) || !in_array($entry['state'], array('online', 'offline', 'stale'), true)) {
			log::add('patchbay', 'warning', 'Availability ignored for ' . patchbay_quote($device) . ': ' . patchbay_quote($entry));
			continue;
		}
		$status = array('patchbayAvailability' => $entry['state'], 'timeout' => $entry['state'] === 'online' ? 0 : 1);
		if (isset($entry['lastSeen']) && is_numeric($entry['lastSeen'])) {
			$status['lastCommunication'] = date('Y-m-d H:i:s', intval($entry['lastSeen'] / 1000));
		}
		$eqLogic->setStatus($status);
	}
}

function patchbay_handle_events($events) {
	foreach ($events as $event) {
		$device = is_array($event) && isset($event['device']) ? $event['device'] : null;
		$eqLogic = patchbay::validDeviceId($device) ? eqLogic::byLogicalId($device, 'patchbay') : null;
		$cmd = is_object($eqLogic) && isset($event['channel']) && is_string($event['channel']) ? $eqLogic->getCmd('info', $event['channel']) : null;
		if (!is_object($cmd)) {
			log::add('patchbay', 'warning', 'Event ignored (unknown device or channel): ' . patchbay_quote($event));
			continue;
		}
		// A press is an event each time, even the same value again: no checkAndUpdateCmd here.
		$date = isset($event['time']) && is_numeric($event['time']) ? date('Y-m-d H:i:s', intval($event['time'] / 1000)) : null;
		$cmd->event(array_key_exists('value', $event) ? $event['value'] : '', $date);
	}
}

function patchbay_handle_status($status) {
	foreach ($status as $endpoint => $state) {
		if (!is_string($state)) {
			log::add('patchbay', 'warning', 'Status ignored for ' . patchbay_quote((string) $endpoint));
			continue;
		}
		cache::set('patchbay::status::' . $endpoint, $state);
		$eqLogic = patchbay::validDeviceId((string) $endpoint) ? eqLogic::byLogicalId((string) $endpoint, 'patchbay') : null;
		if (is_object($eqLogic)) {
			$eqLogic->setStatus('patchbayStatus', $state);
		}
		log::add('patchbay', 'debug', 'Status ' . $endpoint . ': ' . patchbay_quote($state));
	}
}

try {
	$apikey = init('apikey');
	// A string only: `?apikey[]=…` would make the core's trim() fail.
	if (!is_string($apikey) || !jeedom::apiAccess($apikey, 'patchbay')) {
		// Never the key itself in the log: only whether one came.
		log::add('patchbay', 'error', 'Callback refused: ' . (!is_string($apikey) || trim($apikey) === '' ? 'no apikey' : 'wrong apikey') . ' from ' . (isset($_SERVER['REMOTE_ADDR']) ? $_SERVER['REMOTE_ADDR'] : '?'));
		patchbay_answer(401, __('Vous n\'êtes pas autorisé à effectuer cette action', __FILE__));
	}
	if (init('test') != '') {
		patchbay_answer(200, 'OK');
	}
	$raw = file_get_contents('php://input');
	if ($raw === '' || $raw === false) {
		// The start-up GET.
		patchbay_answer(200);
	}
	$body = json_decode($raw, true, 64);
	if (!is_array($body) || (count($body) > 0 && array_keys($body) === range(0, count($body) - 1))) {
		log::add('patchbay', 'error', 'Callback body is not a JSON object (' . strlen($raw) . ' bytes): ' . patchbay_quote($raw));
		patchbay_answer(400, 'not a JSON object');
	}
	$handlers = array(
		'descriptions' => function ($descriptions) {
			foreach ($descriptions as $device => $description) {
				patchbay::applyDescription($device, $description);
			}
		},
		'devices' => 'patchbay_handle_devices',
		'availability' => 'patchbay_handle_availability',
		'events' => 'patchbay_handle_events',
		'replies' => 'patchbay_handle_replies',
		'status' => 'patchbay_handle_status',
	);
	foreach ($handlers as $key => $handler) {
		if (!array_key_exists($key, $body)) {
			continue;
		}
		if (!is_array($body[$key])) {
			log::add('patchbay', 'error', 'Callback key ' . $key . ' is not an object: ' . patchbay_quote($body[$key]));
			continue;
		}
		try {
			$handler($body[$key]);
		} catch (Throwable $e) {
			// One key failing (even a PHP error) leaves the others applied and the answer clean.
			log::add('patchbay', 'error', 'Callback key ' . $key . ': ' . $e->getMessage());
		}
	}
	foreach (array_diff(array_keys($body), array_keys($handlers)) as $key) {
		log::add('patchbay', 'debug', 'Callback key ignored: ' . patchbay_quote((string) $key));
	}
	patchbay_answer(200);
} catch (Throwable $e) {
	log::add('patchbay', 'error', 'Callback: ' . $e->getMessage());
	patchbay_answer(500, 'error');
}
