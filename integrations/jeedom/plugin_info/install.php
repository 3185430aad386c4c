<?php
/* Jeedom calls <id>_install, <id>_update and <id>_remove after installing, updating or removing the plugin. */

require_once dirname(__FILE__) . '/../../../core/php/core.inc.php';

/** The settings a fresh install starts with (every one can be changed on the plugin's configuration page). */
function patchbay_defaults() {
	return array(
		'socketport' => '55071',
		'cycle' => '0.3',
		'drainTimeoutMs' => '5000',
		'replyWaitMs' => '3000',
		'devices' => json_encode(array(array('id' => 'thermo1', 'driver' => 'sim', 'options' => array('interval' => 5000))), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES),
	);
}

function patchbay_install() {
	foreach (patchbay_defaults() as $key => $value) {
		if (config::byKey($key, 'patchbay') === '') {
			config::save($key, $value, 'patchbay');
		}
	}
}

function patchbay_update() {
	// An update keeps the user's settings and only fills in the ones a newer version added.
	patchbay_install();
}

function patchbay_remove() {
	// The core stops the daemon before it removes a plugin; the equipment goes with the plugin.
}
