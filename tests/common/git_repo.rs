//! A real temporary git repository for the git driver tests (tests/git.rs, git_merge.rs):
//! git runs with a scratch HOME inside it, no system config, and a fixed identity.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::{bin, key1_file, run, scratch};

pub struct Repo {
    pub dir: PathBuf,
    pub home: PathBuf,
}

impl Repo {
    /// An empty repository on branch `main` in the scratch directory `name`.
    pub fn new(name: &str) -> Repo {
        let dir = scratch(name);
        let home = dir.join(".scratch-home");
        std::fs::create_dir_all(&home).unwrap();
        let r = Repo { dir, home };
        r.git_ok(&["init", "-q", "-b", "main"]);
        // the scratch HOME is inside the repository: keep it out of `git add -A`
        std::fs::write(r.dir.join(".git/info/exclude"), ".scratch-home/\n").unwrap();
        r
    }

    /// The environment git and sops-rs run with here (with the test key or not).
    pub fn env(&self, key: bool) -> Vec<(&'static str, String)> {
        let mut e = vec![
            ("HOME", self.home.display().to_string()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_AUTHOR_NAME", "t".into()),
            ("GIT_AUTHOR_EMAIL", "t@example.com".into()),
            ("GIT_COMMITTER_NAME", "t".into()),
            ("GIT_COMMITTER_EMAIL", "t@example.com".into()),
            ("GIT_PAGER", "cat".into()),
        ];
        if key {
            e.push(("SOPS_AGE_KEY_FILE", key1_file()));
        }
        e
    }

    /// `prog` in the repository, with the test key in its environment or not.
    pub fn run_in(&self, prog: &Path, args: &[&str], key: bool) -> Output {
        let env = self.env(key);
        let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run(prog, args, &self.dir, &envs, None)
    }

    /// git, which must succeed; its stdout.
    #[track_caller]
    pub fn git_ok(&self, args: &[&str]) -> String {
        self.git_key(args, true)
    }

    /// git, with or without the test key in its environment (the drivers run under git).
    #[track_caller]
    pub fn git_key(&self, args: &[&str], key: bool) -> String {
        let o = self.run_in(Path::new("git"), args, key);
        assert!(
            o.status.success(),
            "git {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn sops_rs(&self, args: &[&str]) -> Output {
        self.run_in(&bin(), args, true)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap()
    }

    /// Write `plain` at `rel` and encrypt it in place (the creation rule picks the key).
    #[track_caller]
    pub fn write_encrypted(&self, rel: &str, plain: &str) {
        self.write(rel, plain);
        let o = self.sops_rs(&["encrypt", "-i", rel]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    #[track_caller]
    pub fn commit(&self, msg: &str) {
        self.git_ok(&["add", "-A"]);
        self.git_ok(&["commit", "-q", "-m", msg]);
    }

    /// `sops-rs git setup`, which must succeed.
    #[track_caller]
    pub fn setup(&self) {
        let o = self.sops_rs(&["git", "setup"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}
