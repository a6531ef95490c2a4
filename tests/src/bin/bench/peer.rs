//! The Python 3 + boto3 peer (`bench/peers/get_user.py`): GET /users/{id} as a team would
//! otherwise write it, run by the local stack's Python under the same runtime emulator.

use std::path::PathBuf;

use userhub_tests::lambda_emulator::workspace_root;

pub struct Peer {
    pub python: PathBuf,
    pub script: PathBuf,
}

impl Peer {
    /// The peer, when the local stack's venv (which has boto3) is installed.
    pub fn locate() -> Option<Self> {
        let root = workspace_root();
        let python = root.join(".local/venv/bin/python3");
        let script = root.join("bench/peers/get_user.py");
        (python.exists() && script.exists()).then_some(Self { python, script })
    }
}
