/** The core's device descriptions, under the names the protocol code uses. */
export type { ChannelDescription as ChannelInfo, DeviceDescription as DeviceInfoDescription, ChannelKind, JsonValue } from '@patchbay/core';
