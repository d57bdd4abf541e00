"""Posted notices: the printable sign (sign.py, marker.py, text.py, labels.py, fonts/), the
watcher that looks for its QR marker (watcher.py, reader.py), release sessions declared at
the venue (releases.py), the snapshot used to set zones and regions (snapshot.py), and the
CLI for them (command.py). composite.py puts a sign into frames for benches and tests."""
