<?php
require_once dirname(__FILE__) . '/../../../core/php/core.inc.php';
include_file('core', 'authentification', 'php');
if (!isConnect()) {
	include_file('desktop', '404', 'php');
	die();
}
// The daemon's settings; the log level is the plugin's own (the "Logs" panel of this page), passed as --loglevel.
?>
<form class="form-horizontal">
	<fieldset>
		<legend><i class="fas fa-plug"></i> {{Démon}}</legend>
		<div class="form-group">
			<label class="col-md-4 control-label">{{Port du démon}}
				<sup><i class="fas fa-question-circle tooltips" title="{{Port TCP local sur lequel Patchbay reçoit les commandes de Jeedom (55071 par défaut)}}"></i></sup>
			</label>
			<div class="col-md-2">
				<input class="configKey form-control" data-l1key="socketport" placeholder="55071"/>
			</div>
		</div>
		<div class="form-group">
			<label class="col-md-4 control-label">{{Cycle d'envoi (s)}}
				<sup><i class="fas fa-question-circle tooltips" title="{{Les changements sont regroupés et envoyés à Jeedom à ce rythme ; 0 = immédiatement}}"></i></sup>
			</label>
			<div class="col-md-2">
				<input class="configKey form-control" data-l1key="cycle" placeholder="0.3"/>
			</div>
		</div>
		<div class="form-group">
			<label class="col-md-4 control-label">{{Délai de vidage à l'arrêt (ms)}}
				<sup><i class="fas fa-question-circle tooltips" title="{{À l'arrêt, Patchbay livre ce qui attend encore ; le plugin attend ce délai (plus une marge) avant de forcer l'arrêt}}"></i></sup>
			</label>
			<div class="col-md-2">
				<input class="configKey form-control" data-l1key="drainTimeoutMs" placeholder="5000"/>
			</div>
		</div>
		<div class="form-group">
			<label class="col-md-4 control-label">{{Attente de la réponse d'une commande (ms)}}
				<sup><i class="fas fa-question-circle tooltips" title="{{Une commande attend la réponse de l'appareil jusqu'à ce délai pour afficher une erreur éventuelle}}"></i></sup>
			</label>
			<div class="col-md-2">
				<input class="configKey form-control" data-l1key="replyWaitMs" placeholder="3000"/>
			</div>
		</div>
		<div class="form-group">
			<label class="col-md-4 control-label">{{Port HTTP de Patchbay}}
				<sup><i class="fas fa-question-circle tooltips" title="{{Page d'état, /healthz et /metrics sur 127.0.0.1 ; vide = désactivé}}"></i></sup>
			</label>
			<div class="col-md-2">
				<input class="configKey form-control" data-l1key="httpPort" placeholder=""/>
			</div>
		</div>
		<legend><i class="fas fa-microchip"></i> {{Appareils}}</legend>
		<div class="form-group">
			<label class="col-md-4 control-label">{{Appareils (JSON)}}
				<sup><i class="fas fa-question-circle tooltips" title="{{La liste devices de la configuration Patchbay : id, driver (sim, serial, modbus, teleinfo) et options}}"></i></sup>
			</label>
			<div class="col-md-6">
				<textarea class="configKey form-control" data-l1key="devices" rows="10" style="font-family:monospace" placeholder='[{"id": "thermo1", "driver": "sim", "options": {"interval": 5000}}]'></textarea>
			</div>
		</div>
		<legend><i class="fas fa-box"></i> {{Installation}}</legend>
		<div class="form-group">
			<label class="col-md-4 control-label">{{URL de la version de Patchbay}}
				<sup><i class="fas fa-question-circle tooltips" title="{{Vide : la version livrée avec le plugin. Sinon l'URL d'une archive patchbay-*.tar.gz (son .sha256 à côté)}}"></i></sup>
			</label>
			<div class="col-md-6">
				<input class="configKey form-control" data-l1key="releaseUrl" placeholder=""/>
			</div>
		</div>
		<div class="form-group">
			<label class="col-md-4 control-label">{{Exécutable patchbay}}
				<sup><i class="fas fa-question-circle tooltips" title="{{Vide : celui installé par les dépendances. Sinon le chemin d'un patchbay déjà installé}}"></i></sup>
			</label>
			<div class="col-md-6">
				<input class="configKey form-control" data-l1key="binary" placeholder=""/>
			</div>
		</div>
	</fieldset>
</form>
