module kubesftp.test/pause

go 1.22
