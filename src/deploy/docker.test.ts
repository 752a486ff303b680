import { describe, expect, it } from 'vitest';
import { tellingLine } from './docker.js';

describe('tellingLine: the line of Docker output an error message quotes', () => {
  it('is the reason, not the advice Docker prints after it', () => {
    expect(
      tellingLine(
        "unknown flag: --project-directory\nSee 'docker --help'.\n\nRun 'docker --help' for more information\n",
      ),
    ).toBe('unknown flag: --project-directory');
  });

  it('says the Compose plugin is missing when docker does not know `compose`', () => {
    const said = tellingLine(
      "docker: unknown command: docker compose\n\nRun 'docker --help' for more information\n",
    );
    expect(said).toContain('docker: unknown command: docker compose');
    expect(said).toContain('the Docker Compose v2 plugin is not installed');
  });

  it('is the last line when no line names an error', () => {
    expect(tellingLine('pulling\nwaiting\nexited with 3\n')).toBe('exited with 3');
    expect(tellingLine('')).toBe('');
  });
});
