#!/usr/bin/env python3
"""Create a TrueCrypt-format volume with Debian's tcplay on a loop device.

usage: make-tcplay-volume.py IMAGE SIZE_MIB PASSPHRASE
tcplay only reads passphrases from a terminal, so it is run in a pseudo-terminal and
answered when it asks (once it has switched echo off, so the answer is not flushed). Needs root (losetup) and the tcplay package.
"""
import os, pty, subprocess, sys, select, termios, time

def main():
    image, size_mib, passphrase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(image, "wb") as f:
        f.truncate(size_mib << 20)
    loop = subprocess.run(["losetup", "-f", "--show", image], check=True,
                          capture_output=True, text=True).stdout.strip()
    try:
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp("tcplay", ["tcplay", "-c", "-d", loop, "-a", "whirlpool",
                                 "-b", "AES-256-XTS"])
        seen = b""
        transcript = b""
        answered = 0
        deadline = time.time() + 120
        while time.time() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            seen += data
            transcript += data
            tail = seen[-200:].lower()
            if tail.rstrip().endswith(b"passphrase:") and answered < 2:
                # tcplay turns echo off with TCSAFLUSH after printing the prompt, which
                # discards anything typed earlier: wait until echo is really off.
                while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < deadline:
                    time.sleep(0.01)
                os.write(fd, passphrase.encode() + b"\n")
                answered += 1
                seen = b""
            elif b"(y/n)" in tail:
                os.write(fd, b"y\n")
                seen = b""
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.exit("tcplay did not finish in time:\n" + transcript.decode(errors="replace"))
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.stderr.write(transcript.decode(errors="replace"))
            sys.exit(f"tcplay failed with exit code {code}")
    finally:
        subprocess.run(["losetup", "-d", loop], check=False)

if __name__ == "__main__":
    main()
