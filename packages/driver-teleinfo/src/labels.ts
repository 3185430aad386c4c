import type { ChannelDescription } from '@patchbay/core';

/** What a label's value is: a number with a unit, or text. */
interface LabelInfo {
  name: string;
  number?: { unit?: string; class?: ChannelDescription['class']; stateClass?: ChannelDescription['stateClass'] };
  class?: ChannelDescription['class'];
}

const energy = (name: string): LabelInfo => ({ name, number: { unit: 'Wh', class: 'energy', stateClass: 'total_increasing' } });
const current = (name: string): LabelInfo => ({ name, number: { unit: 'A', class: 'current', stateClass: 'measurement' } });
const voltage = (name: string): LabelInfo => ({ name, number: { unit: 'V', class: 'voltage', stateClass: 'measurement' } });
const apparent = (name: string): LabelInfo => ({ name, number: { unit: 'VA', class: 'apparent_power', stateClass: 'measurement' } });
const power = (name: string): LabelInfo => ({ name, number: { unit: 'W', class: 'power', stateClass: 'measurement' } });
const text = (name: string, cls?: ChannelDescription['class']): LabelInfo => (cls === undefined ? { name } : { name, class: cls });
const count = (name: string): LabelInfo => ({ name, number: {} });

/**
 * The labels of the historic mode (Enedis-NOI-CPT_02E, the "Compteur Bleu Électronique"
 * single- and three-phase meters, and Linky in historic mode).
 */
export const historicLabels: Record<string, LabelInfo> = {
  ADCO: text('Meter address'),
  OPTARIF: text('Tariff option', 'tariff'),
  ISOUSC: current('Subscribed current'),
  BASE: energy('Index, base option'),
  HCHC: energy('Index, off-peak hours'),
  HCHP: energy('Index, peak hours'),
  EJPHN: energy('Index, EJP normal hours'),
  EJPHPM: energy('Index, EJP mobile peak hours'),
  BBRHCJB: energy('Index, Tempo blue days off-peak'),
  BBRHPJB: energy('Index, Tempo blue days peak'),
  BBRHCJW: energy('Index, Tempo white days off-peak'),
  BBRHPJW: energy('Index, Tempo white days peak'),
  BBRHCJR: energy('Index, Tempo red days off-peak'),
  BBRHPJR: energy('Index, Tempo red days peak'),
  PEJP: { name: 'EJP notice', number: { unit: 'min', class: 'duration' } },
  PTEC: text('Current tariff period', 'tariff'),
  DEMAIN: text("Tomorrow's Tempo colour", 'tariff'),
  IINST: current('Instantaneous current'),
  IINST1: current('Instantaneous current, phase 1'),
  IINST2: current('Instantaneous current, phase 2'),
  IINST3: current('Instantaneous current, phase 3'),
  ADPS: current('Subscribed power exceeded warning'),
  ADIR1: current('Exceeded current, phase 1'),
  ADIR2: current('Exceeded current, phase 2'),
  ADIR3: current('Exceeded current, phase 3'),
  IMAX: current('Maximum current'),
  IMAX1: current('Maximum current, phase 1'),
  IMAX2: current('Maximum current, phase 2'),
  IMAX3: current('Maximum current, phase 3'),
  PMAX: power('Maximum power, three-phase'),
  PAPP: apparent('Apparent power'),
  HHPHC: text('Peak/off-peak schedule group', 'tariff'),
  MOTDETAT: text('Meter status word'),
  PPOT: text('Presence of potentials'),
};

/** The labels of the standard mode (Enedis-NOI-CPT_54E, Linky). */
export const standardLabels: Record<string, LabelInfo> = {
  ADSC: text('Meter address'),
  VTIC: text('TIC version'),
  DATE: text('Meter date and time'),
  NGTF: text('Supplier tariff name', 'tariff'),
  LTARF: text('Current tariff label', 'tariff'),
  EAST: energy('Total active energy withdrawn'),
  EAIT: energy('Total active energy injected'),
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`EASF${String(i + 1).padStart(2, '0')}`, energy(`Active energy withdrawn, supplier index ${i + 1}`)])),
  ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`EASD${String(i + 1).padStart(2, '0')}`, energy(`Active energy withdrawn, distributor index ${i + 1}`)])),
  ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`ERQ${i + 1}`, { name: `Reactive energy Q${i + 1}`, number: { unit: 'VArh', stateClass: 'total_increasing' } } satisfies LabelInfo])),
  IRMS1: current('RMS current, phase 1'),
  IRMS2: current('RMS current, phase 2'),
  IRMS3: current('RMS current, phase 3'),
  URMS1: voltage('RMS voltage, phase 1'),
  URMS2: voltage('RMS voltage, phase 2'),
  URMS3: voltage('RMS voltage, phase 3'),
  PREF: { name: 'Subscribed apparent power', number: { unit: 'kVA', class: 'apparent_power' } },
  PCOUP: { name: 'Cut-off apparent power', number: { unit: 'kVA', class: 'apparent_power' } },
  SINSTS: apparent('Apparent power withdrawn'),
  SINSTS1: apparent('Apparent power withdrawn, phase 1'),
  SINSTS2: apparent('Apparent power withdrawn, phase 2'),
  SINSTS3: apparent('Apparent power withdrawn, phase 3'),
  SMAXSN: apparent('Maximum apparent power withdrawn today'),
  SMAXSN1: apparent('Maximum apparent power withdrawn today, phase 1'),
  SMAXSN2: apparent('Maximum apparent power withdrawn today, phase 2'),
  SMAXSN3: apparent('Maximum apparent power withdrawn today, phase 3'),
  'SMAXSN-1': apparent('Maximum apparent power withdrawn yesterday'),
  'SMAXSN1-1': apparent('Maximum apparent power withdrawn yesterday, phase 1'),
  'SMAXSN2-1': apparent('Maximum apparent power withdrawn yesterday, phase 2'),
  'SMAXSN3-1': apparent('Maximum apparent power withdrawn yesterday, phase 3'),
  SINSTI: apparent('Apparent power injected'),
  SMAXIN: apparent('Maximum apparent power injected today'),
  'SMAXIN-1': apparent('Maximum apparent power injected yesterday'),
  CCASN: power('Active load curve point withdrawn'),
  'CCASN-1': power('Previous active load curve point withdrawn'),
  CCAIN: power('Active load curve point injected'),
  'CCAIN-1': power('Previous active load curve point injected'),
  UMOY1: voltage('Mean voltage, phase 1'),
  UMOY2: voltage('Mean voltage, phase 2'),
  UMOY3: voltage('Mean voltage, phase 3'),
  STGE: text('Status register'),
  DPM1: text('Start of mobile peak 1'),
  FPM1: text('End of mobile peak 1'),
  DPM2: text('Start of mobile peak 2'),
  FPM2: text('End of mobile peak 2'),
  DPM3: text('Start of mobile peak 3'),
  FPM3: text('End of mobile peak 3'),
  MSG1: text('Short message'),
  MSG2: text('Very short message'),
  PRM: text('Delivery point (PRM)'),
  RELAIS: count('Relay states'),
  NTARF: count('Current tariff index'),
  NJOURF: count('Supplier calendar day number'),
  'NJOURF+1': count("Next day's supplier calendar day number"),
  'PJOURF+1': text("Next day's supplier profile"),
  PPOINTE: text('Next peak day profile'),
};

/** The channel description of a label; an unknown label is text, named by itself. */
export function describeLabel(mode: 'historic' | 'standard', label: string): ChannelDescription {
  const info = (mode === 'historic' ? historicLabels : standardLabels)[label];
  if (info === undefined) return { kind: 'text', name: label, writable: false };
  const description: ChannelDescription = { kind: info.number === undefined ? 'text' : 'number', name: info.name, writable: false };
  const cls = info.number?.class ?? info.class;
  if (cls !== undefined) description.class = cls;
  if (info.number?.unit !== undefined) description.unit = info.number.unit;
  if (info.number?.stateClass !== undefined) description.stateClass = info.number.stateClass;
  return description;
}
