// Runs before the suite (npm test): makes sure Debian's Chromium is present for the browser tests,
// installing it with apt-get when missing, since test tools may not download browsers here.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (!existsSync(CHROMIUM)) {
  console.log(`prepare: ${CHROMIUM} is missing; installing Debian's chromium (apt-get)...`);
  try {
    execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null', { stdio: 'inherit', shell: '/bin/bash' });
  } catch {
    console.error('prepare: could not install chromium with apt-get; browser tests need /usr/bin/chromium (or CHROMIUM_PATH).');
    process.exit(1);
  }
}
