import { spawn, type ChildProcess } from 'node:child_process';

/**
 * `php -S 127.0.0.1:<port>` (PHP's built-in server, the PHP peers' web server), resolved once
 * it says it listens. `args` follow the address: a router script, or `-t <docroot>`. What it
 * prints goes to `onOutput` (PHP's warnings and fatal errors land there).
 */
export async function startPhpServer(options: { port: number; args: string[]; env?: NodeJS.ProcessEnv; onOutput?: (text: string) => void }): Promise<ChildProcess> {
  const child = spawn('php', ['-S', `127.0.0.1:${options.port}`, ...options.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      options.onOutput?.(text);
      output += text;
      // "Development Server (http://...) started"
      if (output.includes('started')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`php -S on port ${options.port} exited (${code}): ${output}`)));
  });
  return child;
}
