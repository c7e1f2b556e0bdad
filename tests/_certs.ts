/**
 * Test-time TLS material: a throwaway certificate authority and a server
 * certificate it signs for `localhost` and `127.0.0.1`, made with the
 * `openssl` command-line tool in a temporary directory (removed again).
 * Nothing is checked in, so nothing expires in the repository.
 *
 * `openssl` is looked up on `PATH` (or `EDGESOCKET_OPENSSL`). Without it,
 * {@linkcode skipWithoutOpenssl} prints a `SKIPPED:` line and the TLS tests
 * are ignored; with `EDGESOCKET_CI=1` they run and fail instead.
 *
 * @module
 */

/** PEM material for a TLS test. */
export interface TestCerts {
  /** The CA certificate that signed {@linkcode TestCerts.cert}; give it to clients. */
  ca: string;
  /** The server certificate (`localhost`, `127.0.0.1`, `::1`). */
  cert: string;
  /** The server certificate's private key (PKCS #8). */
  key: string;
  /** A second CA that signed nothing here: a client trusting only it must fail. */
  otherCa: string;
}

function opensslPath(): string {
  try {
    return Deno.env.get("EDGESOCKET_OPENSSL") || "openssl";
  } catch {
    return "openssl";
  }
}

/**
 * Whether `openssl` runs here.
 *
 * @returns `true` when `openssl version` succeeds.
 */
export function hasOpenssl(): boolean {
  try {
    return new Deno.Command(opensslPath(), {
      args: ["version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/**
 * For `Deno.test`'s `ignore`: `true` (after a `SKIPPED:` line on stderr)
 * when `openssl` is missing, unless `EDGESOCKET_CI=1` demands every test run.
 *
 * @param testName The test's name, for the message.
 * @returns Whether to ignore the test.
 */
export function skipWithoutOpenssl(testName: string): boolean {
  if (hasOpenssl()) return false;
  if (Deno.env.get("EDGESOCKET_CI") === "1") return false;
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `SKIPPED: ${testName} needs openssl (${opensslPath()} not found): apt-get install openssl, or set EDGESOCKET_OPENSSL\n`,
    ),
  );
  return true;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(opensslPath(), {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
}

async function makeCa(dir: string, name: string): Promise<void> {
  // A v3 CA (basicConstraints CA:TRUE, keyCertSign): rustls, which Deno uses,
  // rejects a CA certificate without these extensions.
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=edgesocket test ${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-addext",
    "subjectKeyIdentifier=hash",
  ]);
}

let cached: Promise<TestCerts> | undefined;

/**
 * Makes (once per test process) a CA, a server certificate it signs, and an
 * unrelated second CA.
 *
 * @returns The PEM strings.
 * @throws {Error} When `openssl` is missing or fails, with its output.
 */
export function testCerts(): Promise<TestCerts> {
  return cached ??= generate();
}

async function generate(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "edgesocket-certs-" });
  try {
    await makeCa(dir, "ca");
    await makeCa(dir, "other-ca");
    await openssl(dir, [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    ]);
    // An end-entity certificate: TLS clients match the host against the
    // subjectAltName only (RFC 6125 §6.4.4), so both names go there.
    await Deno.writeTextFile(
      `${dir}/server.ext`,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
        "",
      ].join("\n"),
    );
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.pem",
    ]);
    const read = (name: string): Promise<string> => Deno.readTextFile(`${dir}/${name}`);
    return {
      ca: await read("ca.pem"),
      cert: await read("server.pem"),
      key: await read("server.key"),
      otherCa: await read("other-ca.pem"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
