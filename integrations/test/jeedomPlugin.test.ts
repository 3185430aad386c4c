import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JeedomBox, PHP, pluginSource } from './jeedomBox.js';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The French source strings Jeedom translates: `{{...}}` in pages and scripts, `__('...', __FILE__)` in PHP. */
function sourceStrings(): Map<string, Set<string>> {
  const strings = new Map<string, Set<string>>();
  for (const file of files(pluginSource).filter((f) => /\.(php|js)$/.test(f))) {
    const text = readFileSync(file, 'utf8');
    const found = new Set<string>([...text.matchAll(/\{\{(.+?)\}\}/g)].map((m) => m[1] as string));
    for (const m of text.matchAll(/__\('((?:[^'\\]|\\.)*)',\s*__FILE__\)/g)) found.add((m[1] as string).replace(/\\'/g, "'"));
    if (found.size > 0) strings.set(`plugins/patchbay/${relative(pluginSource, file)}`, found);
  }
  return strings;
}

describe('jeedom plugin - layout', () => {
  let box: JeedomBox | undefined;
  afterEach(async () => {
    await box?.close();
    box = undefined;
  });

  it('jeedom plugin - laid out as Jeedom expects: info.json with its daemon and dependencies, the class, the callback, the pages, the install script; every PHP file parses', () => {
    const info = JSON.parse(readFileSync(join(pluginSource, 'plugin_info/info.json'), 'utf8')) as Record<string, unknown>;
    expect(info).toMatchObject({ id: 'patchbay', hasOwnDeamon: true, hasDependency: true, maxDependancyInstallTime: expect.any(Number), require: '4.2', category: 'home automation protocol' });
    expect(info.language).toEqual(expect.arrayContaining(['fr_FR', 'en_US']));
    expect(Object.keys(info.description as object).sort()).toEqual(['en_US', 'fr_FR']);
    for (const path of [
      'plugin_info/info.json',
      'plugin_info/install.php',
      'plugin_info/configuration.php',
      'core/class/patchbay.class.php',
      'core/php/jeePatchbay.php',
      'core/i18n/en_US.json',
      'desktop/php/patchbay.php',
      'desktop/js/patchbay.js',
      'resources/install_apt.sh',
    ]) {
      expect(existsSync(join(pluginSource, path)), path).toBe(true);
    }
    accessSync(join(pluginSource, 'resources/install_apt.sh'), constants.X_OK);
    // The template's "Deny from all" in core/php would answer 403 to every callback (protocols/jeedom.md §8.5).
    expect(existsSync(join(pluginSource, 'core/php/.htaccess'))).toBe(false);
    for (const dir of ['core/class', 'plugin_info', 'resources']) expect(readFileSync(join(pluginSource, dir, '.htaccess'), 'utf8')).toContain('Deny from all');
    const klass = readFileSync(join(pluginSource, 'core/class/patchbay.class.php'), 'utf8');
    expect(klass).toMatch(/class patchbay extends eqLogic/);
    expect(klass).toMatch(/class patchbayCmd extends cmd/);
    for (const method of ['deamon_info', 'deamon_start', 'deamon_stop', 'dependancy_info', 'dependancy_install', 'sendToDaemon']) expect(klass).toMatch(new RegExp(`public static function ${method}\\(`));
    for (const file of files(pluginSource).filter((f) => f.endsWith('.php'))) {
      expect(execFileSync(PHP, ['-l', file], { encoding: 'utf8' })).toContain('No syntax errors');
    }
    expect(statSync(join(pluginSource, 'core/class/patchbay.class.php')).size).toBeGreaterThan(0);
  });

  it('jeedom plugin - French sources, and an English translation for each of their strings (and none that no file uses)', () => {
    const english = JSON.parse(readFileSync(join(pluginSource, 'core/i18n/en_US.json'), 'utf8')) as Record<string, Record<string, string>>;
    const strings = sourceStrings();
    expect(Object.keys(english).sort()).toEqual([...strings.keys()].sort());
    for (const [file, found] of strings) {
      expect(Object.keys(english[file] ?? {}).sort(), file).toEqual([...found].sort());
      for (const [fr, en] of Object.entries(english[file] ?? {})) expect(en.trim(), `${file}: ${fr}`).not.toBe('');
    }
  });

  it('jeedom plugin - install.php sets the defaults once, an update keeps the user\'s settings; messages follow Jeedom\'s language', async () => {
    box = await JeedomBox.start({ config: { socketport: '' } });
    const b = box;
    await b.php(`require_once ${JSON.stringify(join(b.plugin, 'plugin_info/install.php'))}; patchbay_install(); return true;`);
    expect(b.db().config.patchbay).toMatchObject({ socketport: '55071', cycle: '0', replyWaitMs: '5000' });
    expect(JSON.parse(String(b.db().config.patchbay?.devices))).toEqual([{ id: 'thermo1', driver: 'sim', options: { interval: 5000 } }]);
    await b.php(`config::save('socketport', '55123', 'patchbay'); require_once ${JSON.stringify(join(b.plugin, 'plugin_info/install.php'))}; patchbay_update(); return true;`);
    expect(b.db().config.patchbay?.socketport).toBe('55123');

    expect((await b.php('return patchbay::deamon_info()["launchable_message"];')).result).toBe("Patchbay n'est pas installé : lancez l'installation des dépendances");
    await b.php(`config::save('language', 'en_US', 'core'); return true;`);
    expect((await b.php('return patchbay::deamon_info()["launchable_message"];')).result).toBe('Patchbay is not installed: run the dependency install');
    expect((await b.request({ body: {}, apikey: null })).text).toBe('You are not allowed to do this');
  });
});
