<?php
/*
 * eqLogic (core/class/eqLogic.class.php): a piece of equipment of a plugin (eqType_name), found
 * by id, type or logicalId; instances are of the plugin's class, as eqLogic::cast makes them.
 */

class eqLogic {
    protected $id;
    protected $name = '';
    protected $logicalId = '';
    protected $eqType_name = '';
    protected $object_id = null;
    protected $isEnable = 0;
    protected $isVisible = 0;
    protected $configuration = array();
    protected $status = array();
    protected $category = array();

    /** An instance of the plugin's class for a stored row. */
    public static function cast($row) {
        if (!is_array($row)) return null;
        $class = (isset($row['eqType_name']) && class_exists($row['eqType_name']) && is_subclass_of($row['eqType_name'], 'eqLogic')) ? $row['eqType_name'] : 'eqLogic';
        $eqLogic = new $class();
        foreach ($row as $key => $value) {
            if (property_exists($eqLogic, $key)) $eqLogic->$key = $value;
        }
        return $eqLogic;
    }

    public static function byId($_id) {
        $db = standinStore::read();
        return isset($db['eqLogic'][strval($_id)]) ? self::cast($db['eqLogic'][strval($_id)]) : null;
    }

    public static function byType($_eqType_name, $_onlyEnable = false) {
        $list = array();
        foreach (standinStore::read()['eqLogic'] as $row) {
            if ($row['eqType_name'] === $_eqType_name && (!$_onlyEnable || $row['isEnable'] == 1)) $list[] = self::cast($row);
        }
        return $list;
    }

    public static function byLogicalId($_logicalId, $_eqType_name, $_multiple = false) {
        $list = array();
        foreach (standinStore::read()['eqLogic'] as $row) {
            if ($row['logicalId'] === $_logicalId && $row['eqType_name'] === $_eqType_name) $list[] = self::cast($row);
        }
        if ($_multiple) return $list;
        return count($list) > 0 ? $list[0] : null;
    }

    /** eqLogic::save: a name is required (Jeedom's check) and a type (the stand-in's); (name, object) is unique. */
    public function save($_direct = false) {
        if (trim((string) $this->name) === '') throw new Exception(__('Le nom de l\'équipement ne peut pas être vide', __FILE__));
        if ($this->eqType_name === '') throw new Exception('eqType_name required');
        $self = $this;
        standinStore::update(function (&$db) use ($self) {
            foreach ($db['eqLogic'] as $row) {
                // The table's unique key (name, object_id), across plugins; MySQL lets NULL objects repeat.
                if ($row['id'] != $self->getId() && $row['name'] === $self->getName() && $self->getObject_id() !== null && $row['object_id'] == $self->getObject_id()) {
                    throw new Exception(__('Un équipement portant ce nom existe déjà', __FILE__) . ' : ' . $self->getName());
                }
            }
            if ($self->getId() === null) $self->setId($db['nextId']++);
            $db['eqLogic'][strval($self->getId())] = $self->toArray();
        });
        if (method_exists($this, 'postSave')) $this->postSave();
        return true;
    }

    public function remove() {
        $id = $this->id;
        standinStore::update(function (&$db) use ($id) {
            unset($db['eqLogic'][strval($id)]);
            foreach ($db['cmd'] as $cmdId => $row) {
                if ($row['eqLogic_id'] == $id) unset($db['cmd'][$cmdId]);
            }
        });
    }

    public function toArray() {
        return array('id' => $this->id, 'name' => $this->name, 'logicalId' => $this->logicalId, 'eqType_name' => $this->eqType_name, 'object_id' => $this->object_id, 'isEnable' => $this->isEnable, 'isVisible' => $this->isVisible, 'configuration' => $this->configuration, 'status' => $this->status, 'category' => $this->category);
    }

    /** eqLogic::getCmd: one cmd by type and logicalId, or a list. */
    public function getCmd($_type = null, $_logicalId = null, $_visible = null, $_multiple = false) {
        if ($_logicalId !== null) {
            return cmd::byEqLogicIdAndLogicalId($this->id, $_logicalId, $_multiple, $_type);
        }
        return cmd::byEqLogicId($this->id, $_type);
    }

    /** eqLogic::checkAndUpdateCmd: an event only when the value changed (or repeatEventManagement is "always"). */
    public function checkAndUpdateCmd($_logicalId, $_value, $_updateTime = null) {
        if ($this->getIsEnable() == 0) return false;
        $cmd = is_object($_logicalId) ? $_logicalId : $this->getCmd('info', $_logicalId);
        if (!is_object($cmd)) return false;
        $oldValue = $cmd->execCmd();
        if ($oldValue !== $cmd->formatValue($_value) || $oldValue === '') {
            $cmd->event($_value, $_updateTime);
            return true;
        }
        if ($cmd->getConfiguration('repeatEventManagement', 'auto') == 'always') {
            $cmd->event($_value, $_updateTime);
            return true;
        }
        $this->setStatus(array('lastCommunication' => date('Y-m-d H:i:s'), 'timeout' => 0));
        return false;
    }

    /** eqLogic::setStatus: stored at once (Jeedom keeps it in the cache, not in the row). */
    public function setStatus($_key, $_value = null) {
        $values = is_array($_key) ? $_key : array($_key => $_value);
        foreach ($values as $key => $value) $this->status[$key] = $value;
        if ($this->id !== null) {
            $id = $this->id;
            $status = $this->status;
            standinStore::update(function (&$db) use ($id, $status) {
                if (isset($db['eqLogic'][strval($id)])) $db['eqLogic'][strval($id)]['status'] = $status;
            });
        }
    }

    public function getStatus($_key = '', $_default = '') {
        if ($_key === '') return $this->status;
        return isset($this->status[$_key]) ? $this->status[$_key] : $_default;
    }

    public function getHumanName($_tag = false, $_prettify = false) {
        return '[' . $this->name . ']';
    }

    public function getImage() {
        return 'plugins/' . $this->eqType_name . '/plugin_info/' . $this->eqType_name . '_icon.png';
    }

    public function getId() { return $this->id; }
    public function setId($_id) { $this->id = $_id; return $this; }
    public function getName() { return $this->name; }
    public function setName($_name) { $this->name = str_replace(array('&', '#', ']', '[', '%', "'", '\\', '/'), '', (string) $_name); return $this; }
    public function getLogicalId() { return $this->logicalId; }
    public function setLogicalId($_logicalId) { $this->logicalId = $_logicalId; return $this; }
    public function getEqType_name() { return $this->eqType_name; }
    public function setEqType_name($_eqType_name) { $this->eqType_name = $_eqType_name; return $this; }
    public function getObject_id() { return $this->object_id; }
    public function setObject_id($_object_id) { $this->object_id = $_object_id; return $this; }
    public function getIsEnable($_default = 0) { return $this->isEnable === null ? $_default : $this->isEnable; }
    public function setIsEnable($_isEnable) { $this->isEnable = $_isEnable; return $this; }
    public function getIsVisible($_default = 0) { return $this->isVisible === null ? $_default : $this->isVisible; }
    public function setIsVisible($_isVisible) { $this->isVisible = $_isVisible; return $this; }
    public function getConfiguration($_key = '', $_default = '') {
        if ($_key === '') return $this->configuration;
        return (isset($this->configuration[$_key]) && $this->configuration[$_key] !== '') ? $this->configuration[$_key] : $_default;
    }
    public function setConfiguration($_key, $_value) { $this->configuration[$_key] = $_value; return $this; }
    public function getCategory($_key = '', $_default = '') {
        if ($_key === '') return $this->category;
        return isset($this->category[$_key]) ? $this->category[$_key] : $_default;
    }
    public function setCategory($_key, $_value) { $this->category[$_key] = $_value; return $this; }
}
