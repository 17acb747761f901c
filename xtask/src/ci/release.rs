//! `.github/workflows/release.yml`: on a `v*` tag, the Linux packages (dated by the tagged
//! commit, numbered by the run, checked against the last release), rebuilt on Windows with the
//! same LLVM and compared byte for byte, then signed (when the repository has the secrets) and
//! published as a GitHub Release with a build-provenance attestation.

use super::{
    pins::Ci,
    workflow::{checkout, header, llvm_root, llvm_steps, upload},
};

/// The Debian packages a Linux release job needs (README, "Prerequisites").
const APT: &str =
    "clang-19 clang-tools-19 lld-19 llvm-19 msitools git ca-certificates python3 python3-venv osslsigncode";

/// The files the Windows rebuild may show different, and why: the Linux LLVM 23 (karellen
/// wheels) has only the x86 code generators, so ARM64 and ARM64EC objects are compiled there by
/// clang 19 (docs/toolchains.md §6) and the arm64 package, the manifest and SHA256SUMS follow.
/// x86 and x64 code, and so the x64 and x86 packages, must be identical.
/// [UNCERTAIN] Linux compiles x86 and x64 with the karellen build of clang 23.1.4, Windows with
/// LLVM's own: if the CodeView compiler record keeps a vendor string, the PDBs and through their
/// GUIDs the DLLs differ. The reproduce jobs' first run says which files differ and where; any
/// such file belongs here with that reason, or the Linux side moves to the same LLVM build.
pub const ALLOWED_TO_DIFFER: [&str; 3] = ["*-arm64.*", "manifest.json", "SHA256SUMS"];

fn linux_setup(ci: &Ci) -> String {
    let mut out = checkout(ci, true);
    out += &format!(
        "      - name: Build prerequisites\n        run: |\n          apt-get update -qq\n          apt-get install -y -qq --no-install-recommends {APT} >/dev/null\n          git config --global --add safe.directory \"$GITHUB_WORKSPACE\"\n          cargo xtask toolchain install\n"
    );
    out
}

pub fn render(ci: &Ci) -> String {
    let image = ci.container.get_ref();
    let mut out = header("release", "  push:\n    tags: ['v*']\n");
    let env = "      SOURCE_DATE_EPOCH: ${{ needs.dist.outputs.epoch }}\n      ARCHWAY_BUILD_NUMBER: ${{ github.run_number }}\n";

    // The last release's MSIs, for `dist --previous` (none before the first release).
    out += "  previous:\n    name: the last release's packages\n    runs-on: ubuntu-24.04\n    timeout-minutes: 10\n    permissions:\n      contents: read\n    steps:\n";
    out += "      - name: Download the last release's MSIs\n        env:\n          GH_TOKEN: ${{ github.token }}\n        run: |\n          mkdir -p previous\n          echo none > previous/TAG\n          last=$(gh release list --repo \"$GITHUB_REPOSITORY\" --exclude-drafts --exclude-pre-releases --limit 1 --json tagName --jq '.[0].tagName // empty')\n          if [ -n \"$last\" ]; then\n            gh release download \"$last\" --repo \"$GITHUB_REPOSITORY\" --pattern '*.msi' --dir previous\n            echo \"$last\" > previous/TAG\n            echo \"checking against $last\" >> \"$GITHUB_STEP_SUMMARY\"\n          else\n            echo \"::notice title=first release::no earlier release: dist runs without --previous\"\n          fi\n";
    out += &upload(ci, "previous", "previous/", "success()");

    // Unsigned packages: what the Windows rebuilds must reproduce.
    out += &format!(
        "  dist:\n    name: dist (Linux, unsigned)\n    needs: previous\n    runs-on: ubuntu-24.04\n    timeout-minutes: 90\n    permissions:\n      contents: read\n    container:\n      image: {image}\n    outputs:\n      epoch: ${{{{ steps.epoch.outputs.epoch }}}}\n    steps:\n"
    );
    out += &linux_setup(ci);
    out += &download(ci, "previous", "previous");
    out += "      - name: SOURCE_DATE_EPOCH from the tagged commit\n        id: epoch\n        run: echo \"epoch=$(git log -1 --format=%ct \"$GITHUB_SHA\")\" >> \"$GITHUB_OUTPUT\"\n";
    out += "      - name: cargo xtask dist --previous (lint and upgrade simulation against the last release)\n        env:\n          SOURCE_DATE_EPOCH: ${{ steps.epoch.outputs.epoch }}\n          ARCHWAY_BUILD_NUMBER: ${{ github.run_number }}\n        run: |\n          if ls previous/*.msi >/dev/null 2>&1; then cargo xtask dist --previous previous; else cargo xtask dist; fi\n";
    out += &upload(ci, "dist-linux", "target/dist/", "success()");

    // The Windows rebuilds with the same LLVM: cross-host reproducibility.
    for (host, runner) in [("x64", "windows-2025"), ("arm64", "windows-11-arm")] {
        out += &format!(
            "  reproduce-{host}:\n    name: rebuild on {runner} with LLVM and compare\n    needs: dist\n    runs-on: {runner}\n    timeout-minutes: 90\n    permissions:\n      contents: read\n    env:\n{env}      ARCHWAY_TOOLCHAIN: llvm\n      ARCHWAY_LLVM_DIR: {root}\\bin\n    steps:\n",
            root = llvm_root(ci.llvm.version.get_ref())
        );
        out += &checkout(ci, false);
        out += &llvm_steps(ci, host, false);
        out += "      - run: cargo xtask dist\n";
        out += &download(ci, "dist-linux", "linux-dist");
        let allow: String = ALLOWED_TO_DIFFER.iter().map(|p| format!(" --allow '{p}'")).collect();
        out += &format!(
            "      - name: Same bytes as the Linux packages\n        shell: bash\n        run: cargo xtask compare-dist linux-dist target/dist{allow}\n"
        );
        out += &upload(ci, &format!("dist-windows-{host}"), "target/dist/", "always()");
    }

    // Signing, from the `release` environment's secrets; a fork (no secrets) ships unsigned
    // packages with a visible note.
    out += &format!(
        "  sign:\n    name: sign (Linux, osslsigncode)\n    needs: [dist, reproduce-x64, reproduce-arm64]\n    runs-on: ubuntu-24.04\n    timeout-minutes: 90\n    environment: release\n    permissions:\n      contents: read\n    container:\n      image: {image}\n    env:\n{env}    steps:\n"
    );
    out += &linux_setup(ci);
    out += &download(ci, "previous", "previous");
    out += "      - name: cargo xtask dist --sign (every PE, then every MSI)\n        env:\n          SIGN_PKCS12_BASE64: ${{ secrets.ARCHWAY_SIGN_PKCS12_BASE64 }}\n          SIGN_PASSWORD: ${{ secrets.ARCHWAY_SIGN_PASSWORD }}\n          ARCHWAY_SIGN_TIMESTAMP_URL: ${{ vars.ARCHWAY_SIGN_TIMESTAMP_URL }}\n        shell: bash\n        run: |\n          args=(dist)\n          if ls previous/*.msi >/dev/null 2>&1; then args+=(--previous previous); fi\n          if [ -z \"$SIGN_PKCS12_BASE64\" ]; then\n            echo \"::warning title=unsigned release::no ARCHWAY_SIGN_PKCS12_BASE64 secret (a fork, or signing not set up): the packages are NOT signed\"\n            cargo xtask \"${args[@]}\"\n            exit 0\n          fi\n          umask 077\n          secrets=$(mktemp -d)\n          trap 'rm -rf \"$secrets\"' EXIT\n          printf '%s' \"$SIGN_PKCS12_BASE64\" | base64 -d > \"$secrets/signing.p12\"\n          printf '%s' \"$SIGN_PASSWORD\" > \"$secrets/password\"\n          unset SIGN_PKCS12_BASE64 SIGN_PASSWORD\n          ARCHWAY_SIGN_PKCS12=\"$secrets/signing.p12\" ARCHWAY_SIGN_PASSWORD_FILE=\"$secrets/password\" cargo xtask \"${args[@]}\" --sign\n";
    out += &upload(ci, "release", "target/dist/", "success()");

    // Publishing holds the write permissions, and builds nothing.
    out += "  publish:\n    name: GitHub Release with provenance\n    needs: sign\n    runs-on: ubuntu-24.04\n    timeout-minutes: 15\n    permissions:\n      contents: write # create the GitHub Release and upload its files\n      id-token: write # the OIDC token Sigstore signs the provenance with\n      attestations: write # store the attestation with the repository\n    steps:\n";
    out += &download(ci, "release", "release");
    out += &format!(
        "      - name: Build-provenance attestation\n        uses: {}\n        with:\n          subject-path: release/*\n",
        ci.uses("actions/attest-build-provenance")
    );
    out += "      - name: GitHub Release\n        env:\n          GH_TOKEN: ${{ github.token }}\n        run: |\n          cd release\n          sha256sum --check SHA256SUMS\n          gh release create \"$GITHUB_REF_NAME\" --repo \"$GITHUB_REPOSITORY\" --verify-tag --title \"archway $GITHUB_REF_NAME\" --notes \"Packages, SHA256SUMS and manifest.json; provenance: gh attestation verify <file> --repo $GITHUB_REPOSITORY\" ./*.msi ./*.zip SHA256SUMS manifest.json\n";
    out
}

fn download(ci: &Ci, name: &str, path: &str) -> String {
    format!(
        "      - uses: {}\n        with:\n          name: {name}\n          path: {path}\n",
        ci.uses("actions/download-artifact")
    )
}
