/**
 * @patchbay/adapter-mqtt: an MQTT host (3.1.1 and 5) with retained state, Home Assistant
 * discovery, command replies on MQTT 5 response topics, and an embedded broker by default.
 */
import { createMqttDefinition } from './adapter.js';

export { createMqttDefinition, type MqttAdapter } from './adapter.js';
export { mqttConfig, type MqttConfig } from './config.js';

/** The `mqtt` adapter definition. */
const mqttAdapter = createMqttDefinition();
export default mqttAdapter;
