<?php
/*
 * cmd (core/class/cmd.class.php): an info or action command of an eqLogic. Instances are of the
 * plugin's `<id>Cmd` class, so execCmd() reaches the plugin's execute().
 */

class cmd {
    /** The subTypes Jeedom's UI offers per type (core/config/jeedom.config.php `cmd:type`). */
    public static $subTypes = array('info' => array('numeric', 'binary', 'string'), 'action' => array('other', 'slider', 'message', 'select', 'color'));

    protected $id;
    protected $name = '';
    protected $logicalId = '';
    protected $generic_type = '';
    protected $eqType = '';
    protected $eqLogic_id;
    protected $type = '';
    protected $subType = '';
    protected $unite = '';
    protected $isHistorized = 0;
    protected $isVisible = 1;
    protected $order = 0;
    protected $value = '';
    protected $configuration = array();
    protected $display = array();
    protected $template = array();
    protected $cache = array();

    public static function cast($row) {
        if (!is_array($row)) return null;
        $class = 'cmd';
        if (isset($row['eqType']) && class_exists($row['eqType'] . 'Cmd') && is_subclass_of($row['eqType'] . 'Cmd', 'cmd')) $class = $row['eqType'] . 'Cmd';
        $cmd = new $class();
        foreach ($row as $key => $value) {
            if (property_exists($cmd, $key)) $cmd->$key = $value;
        }
        return $cmd;
    }

    public static function byId($_id) {
        $db = standinStore::read();
        return isset($db['cmd'][strval($_id)]) ? self::cast($db['cmd'][strval($_id)]) : null;
    }

    public static function byEqLogicId($_eqLogic_id, $_type = null) {
        $list = array();
        foreach (standinStore::read()['cmd'] as $row) {
            if ($row['eqLogic_id'] == $_eqLogic_id && ($_type === null || $row['type'] === $_type)) $list[] = self::cast($row);
        }
        usort($list, function ($a, $b) { return $a->getOrder() - $b->getOrder(); });
        return $list;
    }

    public static function byEqLogicIdAndLogicalId($_eqLogic_id, $_logicalId, $_multiple = false, $_type = null) {
        $list = array();
        foreach (standinStore::read()['cmd'] as $row) {
            if ($row['eqLogic_id'] == $_eqLogic_id && $row['logicalId'] === $_logicalId && ($_type === null || $row['type'] === $_type)) $list[] = self::cast($row);
        }
        if ($_multiple) return $list;
        return count($list) > 0 ? $list[0] : null;
    }

    /** cmd::save: name, type, subType and eqLogic_id required and min <= max (Jeedom's checks), names unique per eqLogic (its table's unique key), the subType one of the type's (the stand-in's own check). */
    public function save($_direct = false) {
        if (trim((string) $this->name) === '') throw new Exception(__('Le nom de la commande ne peut pas être vide :', __FILE__) . ' ' . $this->logicalId);
        if ($this->type === '') throw new Exception(__('Le type de la commande ne peut pas être vide :', __FILE__) . ' ' . $this->name);
        if ($this->subType === '') throw new Exception(__('Le sous-type de la commande ne peut pas être vide :', __FILE__) . ' ' . $this->name);
        if ($this->eqLogic_id === null || $this->eqLogic_id === '') throw new Exception(__('Vous ne pouvez pas créer une commande sans la rattacher à un équipement', __FILE__));
        if ($this->getConfiguration('maxValue') !== '' && $this->getConfiguration('minValue') !== '' && $this->getConfiguration('minValue') > $this->getConfiguration('maxValue')) throw new Exception(__('La valeur minimum de la commande ne peut être supérieure à la valeur maximum', __FILE__));
        if (!isset(self::$subTypes[$this->type])) throw new Exception('standin: unknown cmd type ' . $this->type);
        if (!in_array($this->subType, self::$subTypes[$this->type], true)) throw new Exception('standin: subType ' . $this->subType . ' is not one of ' . $this->type . "'s");
        if ($this->type === 'action' && $this->subType === 'select' && trim((string) $this->getConfiguration('listValue')) === '') throw new Exception('standin: a select needs a listValue');
        $self = $this;
        standinStore::update(function (&$db) use ($self) {
            if (!isset($db['eqLogic'][strval($self->getEqLogic_id())])) throw new Exception('standin: no eqLogic ' . $self->getEqLogic_id());
            $self->setEqType($db['eqLogic'][strval($self->getEqLogic_id())]['eqType_name']);
            foreach ($db['cmd'] as $row) {
                if ($row['id'] != $self->getId() && $row['eqLogic_id'] == $self->getEqLogic_id() && $row['name'] === $self->getName()) {
                    throw new Exception(__('Le nom de la commande doit être unique :', __FILE__) . ' ' . $self->getName());
                }
            }
            if ($self->getId() === null) $self->setId($db['nextId']++);
            $row = $self->toArray();
            // The cached value lives beside the row; a save never resets it.
            if (isset($db['cmd'][strval($self->getId())]['cache'])) $row['cache'] = $db['cmd'][strval($self->getId())]['cache'];
            $db['cmd'][strval($self->getId())] = $row;
        });
        return true;
    }

    public function remove() {
        $id = $this->id;
        standinStore::update(function (&$db) use ($id) {
            unset($db['cmd'][strval($id)]);
        });
    }

    public function toArray() {
        return array('id' => $this->id, 'name' => $this->name, 'logicalId' => $this->logicalId, 'generic_type' => $this->generic_type, 'eqType' => $this->eqType, 'eqLogic_id' => $this->eqLogic_id, 'type' => $this->type, 'subType' => $this->subType, 'unite' => $this->unite, 'isHistorized' => $this->isHistorized, 'isVisible' => $this->isVisible, 'order' => $this->order, 'value' => $this->value, 'configuration' => $this->configuration, 'display' => $this->display, 'template' => $this->template, 'cache' => $this->cache);
    }

    public function getEqLogic() {
        return eqLogic::byId($this->eqLogic_id);
    }

    /** cmd::formatValue: binary to 0/1, numeric to a float, string as is. */
    public function formatValue($_value) {
        if ($this->type !== 'info') return $_value;
        switch ($this->subType) {
            case 'binary':
                $value = is_bool($_value) ? ($_value ? '1' : '0') : strtolower(trim((string) $_value));
                if (in_array($value, array('on', 'true', 'high', 'enable', 'enabled', 'yes'), true)) return 1;
                if (in_array($value, array('off', 'false', 'low', 'disable', 'disabled', 'no', ''), true)) return 0;
                return intval($value) >= 1 ? 1 : 0;
            case 'numeric':
                return floatval(str_replace(',', '.', (string) $_value));
            default:
                return is_scalar($_value) ? (string) $_value : json_encode($_value);
        }
    }

    /** cmd::event: the new value of an info cmd, stored with its date (and kept in the event log the tests read). */
    public function event($_value, $_datetime = null) {
        if ($this->type !== 'info') return;
        $value = $this->formatValue($_value);
        $date = ($_datetime !== null && $_datetime !== false) ? $_datetime : date('Y-m-d H:i:s');
        $id = $this->id;
        $this->cache['value'] = $value;
        $this->cache['collectDate'] = $date;
        standinStore::update(function (&$db) use ($id, $value, $date) {
            if (!isset($db['cmd'][strval($id)])) return;
            $db['cmd'][strval($id)]['cache']['value'] = $value;
            $db['cmd'][strval($id)]['cache']['collectDate'] = $date;
            $db['events'][] = array('cmd_id' => $id, 'value' => $value, 'date' => $date);
        });
    }

    /** cmd::execCmd: an info's current value; an action runs the plugin's execute() (refused on a disabled eqLogic). */
    public function execCmd($_options = null) {
        if ($this->type === 'info') {
            return isset($this->cache['value']) ? $this->cache['value'] : '';
        }
        $eqLogic = $this->getEqLogic();
        if (!is_object($eqLogic) || $eqLogic->getIsEnable() != 1) {
            throw new Exception(__('Equipement désactivé - impossible d\'exécuter la commande :', __FILE__) . ' ' . $this->name);
        }
        return $this->execute(is_array($_options) ? $_options : array());
    }

    public function execute($_options = array()) {
        return false;
    }

    /** cmd::getHumanName: [object][equipment][cmd]. */
    public function getHumanName($_tag = false, $_prettify = false) {
        $eqLogic = $this->getEqLogic();
        return (is_object($eqLogic) ? $eqLogic->getHumanName() : '') . '[' . $this->name . ']';
    }

    public function getCollectDate() { return isset($this->cache['collectDate']) ? $this->cache['collectDate'] : ''; }
    public function getCache($_key = '', $_default = '') {
        $row = standinStore::read()['cmd'][strval($this->id)] ?? null;
        $cache = is_array($row) && isset($row['cache']) ? $row['cache'] : $this->cache;
        if ($_key === '') return $cache;
        return isset($cache[$_key]) ? $cache[$_key] : $_default;
    }
    public function setCache($_key, $_value = null) {
        $this->cache[$_key] = $_value;
        $id = $this->id;
        standinStore::update(function (&$db) use ($id, $_key, $_value) {
            if (isset($db['cmd'][strval($id)])) $db['cmd'][strval($id)]['cache'][$_key] = $_value;
        });
    }

    public function getId() { return $this->id; }
    public function setId($_id) { $this->id = $_id; return $this; }
    public function getName() { return $this->name; }
    public function setName($_name) { $this->name = str_replace(array('&', '#', ']', '[', '%', "'"), '', (string) $_name); return $this; }
    public function getLogicalId() { return $this->logicalId; }
    public function setLogicalId($_logicalId) { $this->logicalId = $_logicalId; return $this; }
    public function getGeneric_type() { return $this->generic_type; }
    public function setGeneric_type($_generic_type) { $this->generic_type = $_generic_type; return $this; }
    public function getEqType() { return $this->eqType; }
    public function setEqType($_eqType) { $this->eqType = $_eqType; return $this; }
    public function getEqLogic_id() { return $this->eqLogic_id; }
    public function setEqLogic_id($_eqLogic_id) { $this->eqLogic_id = $_eqLogic_id; return $this; }
    public function getType() { return $this->type; }
    public function setType($_type) { $this->type = $_type; return $this; }
    public function getSubType() { return $this->subType; }
    public function setSubType($_subType) { $this->subType = $_subType; return $this; }
    public function getUnite() { return $this->unite; }
    public function setUnite($_unite) { $this->unite = $_unite; return $this; }
    public function getIsHistorized() { return $this->isHistorized; }
    public function setIsHistorized($_isHistorized) { $this->isHistorized = $_isHistorized; return $this; }
    public function getIsVisible() { return $this->isVisible; }
    public function setIsVisible($_isVisible) { $this->isVisible = $_isVisible; return $this; }
    public function getOrder() { return $this->order; }
    public function setOrder($_order) { $this->order = $_order; return $this; }
    /** For an action, the id of the info cmd that shows its state. */
    public function getValue() { return $this->value; }
    public function setValue($_value) { $this->value = $_value; return $this; }
    public function getConfiguration($_key = '', $_default = '') {
        if ($_key === '') return $this->configuration;
        return (isset($this->configuration[$_key]) && $this->configuration[$_key] !== '') ? $this->configuration[$_key] : $_default;
    }
    public function setConfiguration($_key, $_value) { $this->configuration[$_key] = $_value; return $this; }
    public function getDisplay($_key = '', $_default = '') {
        if ($_key === '') return $this->display;
        return isset($this->display[$_key]) ? $this->display[$_key] : $_default;
    }
    public function setDisplay($_key, $_value) { $this->display[$_key] = $_value; return $this; }
    public function getTemplate($_key = '', $_default = '') {
        if ($_key === '') return $this->template;
        return isset($this->template[$_key]) ? $this->template[$_key] : $_default;
    }
    public function setTemplate($_key, $_value) { $this->template[$_key] = $_value; return $this; }
}
